using CnnFixations.Onnx;
using CnnFixations.Unravel;
using static CnnFixations.Tests.Unravel.WalkHarness;

namespace CnnFixations.Tests.Unravel;

/// <summary>Each rule of the spec on small graphs whose answers are computed by hand in the comments.</summary>
public class RuleTests
{
    private static float[] Seq(int n, float start = 0) => Enumerable.Range(0, n).Select(i => start + i).ToArray();
    private static float[] Fill(int n, float v) => Enumerable.Repeat(v, n).ToArray();

    // x: ch0 = 1..9, ch1 = 1..9 (row-major 3x3). W[0,0] has only its bottom-right tap (u=2,v=2) = 1,
    // W[0,1] only its top-left tap (u=0,v=0) = 1. Pad 1, stride 1, so output (y,x) reads rows y-1..y+1.
    private static (GraphBuilder, Dictionary<string, TensorValue>) TwoChannelConv(bool withBn, float gamma = -1)
    {
        var w = new float[18];
        w[8] = 1;      // W[0,0,2,2]
        w[9] = 1;      // W[0,1,0,0]
        var g = new GraphBuilder("x", 1, 2, 3, 3)
            .Initializer("W", new[] { 1, 2, 3, 3 }, w)
            .Node("Conv", new[] { "x", "W" }, new[] { "y" }, ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 3, 3 }, Seq(9, 1).Concat(Seq(9, 1)).ToArray()),
            ["y"] = T(new[] { 1, 1, 3, 3 }, new float[9]),
        };
        if (withBn)
        {
            g.Initializer("gamma", new[] { 1 }, gamma).Initializer("beta", new[] { 1 }, 0f)
             .Initializer("mean", new[] { 1 }, 0f).Initializer("var", new[] { 1 }, 1f)
             .Node("BatchNormalization", new[] { "y", "gamma", "beta", "mean", "var" }, new[] { "z" });
            acts["z"] = T(new[] { 1, 1, 3, 3 }, new float[9]);
        }
        return (g, acts);
    }

    [Fact]
    public void Conv_picks_the_channel_with_the_largest_summed_contribution_at_the_window_centre()
    {
        var (g, acts) = TwoChannelConv(false);
        var model = g.Output("y").Build();
        // Output (0,0,0): ch0's tap (2,2) reads x0[1,1] = 5; ch1's tap (0,0) reads row -1 (padding) = 0 -> ch0, centre (0,0).
        Assert.Equal(new[] { "0,0,0" }, Neurons(Walk(model, acts, "y", new[] { 0, 0, 0 }).Input));
        // Output (0,2,2): ch0's tap reads row 3 (padding) = 0; ch1's tap reads x1[1,1] = 5 -> ch1, centre (2,2).
        Assert.Equal(new[] { "1,2,2" }, Neurons(Walk(model, acts, "y", new[] { 0, 2, 2 }).Input));
    }

    [Fact]
    public void Conv_refine_takes_the_largest_single_contribution_in_the_window()
    {
        var (g, acts) = TwoChannelConv(false);
        var model = g.Output("y").Build();
        var refine = new UnravelOptions { Rules = RuleFamily.Paper, ConvPosition = ConvPosition.Refine };
        // Output (0,0,0) -> ch0; its only non-zero contribution is x0[1,1]*1 = 5 at (1,1); the others are 0.
        Assert.Equal(new[] { "0,1,1" }, Neurons(Walk(model, acts, "y", new[] { 0, 0, 0 }, refine).Input));
    }

    [Fact]
    public void Conv_ties_between_channels_go_to_the_lowest_channel()
    {
        var g = new GraphBuilder("x", 1, 2, 3, 3)
            .Initializer("W", new[] { 1, 2, 3, 3 }, Fill(18, 1))
            .Node("Conv", new[] { "x", "W" }, new[] { "y" }, ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }));
        var acts = new Dictionary<string, TensorValue>
        {
            // Both channels sum to 45 over the whole 3x3 window of output (1,1).
            ["x"] = T(new[] { 1, 2, 3, 3 }, Seq(9, 1).Concat(Seq(9, 1).Reverse()).ToArray()),
            ["y"] = T(new[] { 1, 1, 3, 3 }, new float[9]),
        };
        Assert.Equal(new[] { "0,1,1" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 0, 1, 1 }).Input));
    }

    [Fact]
    public void Negative_gamma_batchnorm_turns_the_channel_argmax_into_an_argmin()
    {
        var (g, acts) = TwoChannelConv(true, gamma: -1);
        var model = g.Output("z").Build();
        // Output (0,2,2): raw sums ch0 = 0, ch1 = 5. Folded with gamma/sigma < 0: argmax of (0, -5) -> ch0.
        Assert.Equal(new[] { "0,2,2" }, Neurons(Walk(model, acts, "z", new[] { 0, 2, 2 }).Input));
        // The authors' raw weights keep ch1.
        Assert.Equal(new[] { "1,2,2" }, Neurons(Walk(model, acts, "z", new[] { 0, 2, 2 }, new UnravelOptions { Rules = RuleFamily.Paper, FoldBatchNorm = false }).Input));
        // A positive gamma changes nothing.
        var (g2, acts2) = TwoChannelConv(true, gamma: 2);
        Assert.Equal(new[] { "1,2,2" }, Neurons(Walk(g2.Output("z").Build(), acts2, "z", new[] { 0, 2, 2 }).Input));
    }

    private static string ConvCentre(int inSize, int kernel, int stride, int dilation, int[] pads, int[] outNeuron, int outSize, string? autoPad = null)
    {
        var attrs = new List<(string, object)> { ("kernel_shape", new[] { kernel, kernel }), ("strides", new[] { stride, stride }), ("dilations", new[] { dilation, dilation }) };
        if (autoPad != null) attrs.Add(("auto_pad", autoPad)); else attrs.Add(("pads", pads));
        var g = new GraphBuilder("x", 1, 1, inSize, inSize)
            .Initializer("W", new[] { 1, 1, kernel, kernel }, Fill(kernel * kernel, 1))
            .Node("Conv", new[] { "x", "W" }, new[] { "y" }, attrs.ToArray());
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 1, inSize, inSize }, Seq(inSize * inSize)),
            ["y"] = T(new[] { 1, 1, outSize, outSize }, new float[outSize * outSize]),
        };
        return Neurons(Walk(g.Output("y").Build(), acts, "y", outNeuron).Input).Single();
    }

    [Fact]
    public void Conv_position_handles_strides_asymmetric_pads_dilation_even_kernels_and_clamping()
    {
        // k3 s2, pads top/left 0, bottom/right 1, 4x4 -> 2x2. Output (1,1): window starts at 2, centre 3.
        Assert.Equal("0,3,3", ConvCentre(4, 3, 2, 1, new[] { 0, 0, 1, 1 }, new[] { 0, 1, 1 }, 2));
        // Output (0,1): rows start 0 (centre 1), cols start 2 (centre 3).
        Assert.Equal("0,1,3", ConvCentre(4, 3, 2, 1, new[] { 0, 0, 1, 1 }, new[] { 0, 0, 1 }, 2));
        // pads top/left 1: output (0,0) starts at -1, centre 0; output (1,1) starts at 1, centre 2.
        Assert.Equal("0,0,0", ConvCentre(4, 3, 2, 1, new[] { 1, 1, 0, 0 }, new[] { 0, 0, 0 }, 2));
        Assert.Equal("0,2,2", ConvCentre(4, 3, 2, 1, new[] { 1, 1, 0, 0 }, new[] { 0, 1, 1 }, 2));
        // pads 2 on a 2x2 input, k3 s1: output (0,0) starts at -2, centre -1, clamped to 0.
        Assert.Equal("0,0,0", ConvCentre(2, 3, 1, 1, new[] { 2, 2, 0, 0 }, new[] { 0, 0, 0 }, 2));
        // k2 dilation 2 (extent 3): offset ((2-1)*2)//2 = 1.
        Assert.Equal("0,1,1", ConvCentre(5, 2, 1, 2, new[] { 0, 0, 0, 0 }, new[] { 0, 0, 0 }, 3));
        // k4 (even extent): offset 3//2 = 1, the upper/left of the two middle pixels.
        Assert.Equal("0,2,1", ConvCentre(6, 4, 1, 1, new[] { 0, 0, 0, 0 }, new[] { 0, 1, 0 }, 3));
        // SAME_UPPER, k3 s2 on 5x5 -> 3x3: total pad (3-1)*2+3-5 = 2, top 1. Output (2,2) starts at 3, centre 4.
        Assert.Equal("0,4,4", ConvCentre(5, 3, 2, 1, Array.Empty<int>(), new[] { 0, 2, 2 }, 3, "SAME_UPPER"));
        // SAME_UPPER, k2 s2 on 5x5 -> 3x3: total pad (3-1)*2+2-5 = 1, top 0 (SAME_LOWER: 1). Output (1,1) starts at 2 (or 1); centre +0.
        Assert.Equal("0,2,2", ConvCentre(5, 2, 2, 1, Array.Empty<int>(), new[] { 0, 1, 1 }, 3, "SAME_UPPER"));
        Assert.Equal("0,1,1", ConvCentre(5, 2, 2, 1, Array.Empty<int>(), new[] { 0, 1, 1 }, 3, "SAME_LOWER"));
    }

    [Fact]
    public void Depthwise_conv_keeps_the_channel_of_the_group()
    {
        var g = new GraphBuilder("x", 1, 2, 3, 3)
            .Initializer("W", new[] { 2, 1, 3, 3 }, Fill(18, 1))
            .Node("Conv", new[] { "x", "W" }, new[] { "y" }, ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }), ("group", 2));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 3, 3 }, Seq(18)),
            ["y"] = T(new[] { 1, 2, 3, 3 }, new float[18]),
        };
        Assert.Equal(new[] { "1,0,2" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 1, 0, 2 }).Input));
    }

    [Fact]
    public void Grouped_conv_ranks_only_the_channels_of_its_group()
    {
        // 4 input channels, group 2: output channel 1 sees input channels 2 and 3 only.
        var w = new float[2 * 2];        // W [2,2,1,1]: out1 weights (1, 2) for input channels 2, 3.
        w[2] = 1; w[3] = 2;
        var g = new GraphBuilder("x", 1, 4, 1, 2)
            .Initializer("W", new[] { 2, 2, 1, 1 }, w)
            .Node("Conv", new[] { "x", "W" }, new[] { "y" }, ("kernel_shape", new[] { 1, 1 }), ("group", 2));
        var acts = new Dictionary<string, TensorValue>
        {
            // channel 0 is huge but outside the group; at x=1: ch2 = 10 (10*1), ch3 = 4 (4*2 = 8) -> ch2.
            ["x"] = T(new[] { 1, 4, 1, 2 }, new float[] { 100, 100, 0, 0, 0, 10, 0, 4 }),
            ["y"] = T(new[] { 1, 2, 1, 2 }, new float[4]),
        };
        Assert.Equal(new[] { "2,0,1" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 1, 0, 1 }).Input));
    }

    [Fact]
    public void MaxPool_with_ceil_mode_uses_only_in_bounds_positions_and_breaks_ties_by_lowest_index()
    {
        var g = new GraphBuilder("x", 1, 1, 3, 3)
            .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }), ("ceil_mode", 1));
        var acts = new Dictionary<string, TensorValue>
        {
            // 7 7 3 / 7 7 6 / 1 2 9
            ["x"] = T(new[] { 1, 1, 3, 3 }, new float[] { 7, 7, 3, 7, 7, 6, 1, 2, 9 }),
            ["y"] = T(new[] { 1, 1, 2, 2 }, new float[4]),
        };
        var model = g.Output("y").Build();
        Assert.Equal(new[] { "0,0,0" }, Neurons(Walk(model, acts, "y", new[] { 0, 0, 0 }).Input));   // four 7s: the first
        Assert.Equal(new[] { "0,1,2" }, Neurons(Walk(model, acts, "y", new[] { 0, 0, 1 }).Input));   // cols 2..3 -> 3, 6
        Assert.Equal(new[] { "0,2,2" }, Neurons(Walk(model, acts, "y", new[] { 0, 1, 1 }).Input));   // only (2,2) is inside
    }

    [Fact]
    public void AveragePool_with_pads_takes_the_largest_activation_in_the_window()
    {
        var g = new GraphBuilder("x", 1, 1, 4, 4)
            .Node("AveragePool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new[] { 3, 3 }), ("strides", new[] { 2, 2 }), ("pads", new[] { 1, 1, 1, 1 }));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 1, 4, 4 }, Seq(16)),
            ["y"] = T(new[] { 1, 1, 2, 2 }, new float[4]),
        };
        var model = g.Output("y").Build();
        Assert.Equal(new[] { "0,1,1" }, Neurons(Walk(model, acts, "y", new[] { 0, 0, 0 }).Input));  // rows/cols -1..1 -> max 5 at (1,1)
        Assert.Equal(new[] { "0,3,3" }, Neurons(Walk(model, acts, "y", new[] { 0, 1, 1 }).Input));  // rows/cols 1..3 -> 15
    }

    [Fact]
    public void Global_pooling_and_ReduceMean_take_the_first_maximum_of_the_channel_or_every_positive_position()
    {
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 2, 2 }, new float[] { 1, 3, -2, 3, 0, -1, 4, 2 }),
            ["y"] = T(new[] { 1, 2, 1, 1 }, new float[2]),
        };
        var gap = new GraphBuilder("x", 1, 2, 2, 2).Node("GlobalAveragePool", new[] { "x" }, new[] { "y" }).Output("y").Build();
        Assert.Equal(new[] { "0,0,1" }, Neurons(Walk(gap, acts, "y", new[] { 0, 0, 0 }).Input));
        Assert.Equal(new[] { "1,1,0" }, Neurons(Walk(gap, acts, "y", new[] { 1, 0, 0 }).Input));
        var positive = new UnravelOptions { Rules = RuleFamily.Paper, GlobalPoolAllPositive = true };
        Assert.Equal(new[] { "0,0,0", "0,0,1", "0,1,1" }, Neurons(Walk(gap, acts, "y", new[] { 0, 0, 0 }, positive).Input));

        var mean = new GraphBuilder("x", 1, 2, 2, 2)
            .Node("ReduceMean", new[] { "x" }, new[] { "m" }, ("axes", new[] { 2, 3 }), ("keepdims", 0)).Output("m").Build();
        acts["m"] = T(new[] { 1, 2 }, new float[2]);
        Assert.Equal(new[] { "1,1,0" }, Neurons(Walk(mean, acts, "m", new[] { 1 }).Input));
    }

    [Fact]
    public void Fully_connected_on_a_vector_keeps_every_positive_contribution()
    {
        // a = (1, -2, 3); row 0 of W = (1, 1, -1): contributions 1, -2, -3 -> {0}; row 1 = (1, -1, 1): 1, 2, 3 -> all.
        var g = new GraphBuilder("x", 1, 3)
            .Initializer("W", new[] { 2, 3 }, 1, 1, -1, 1, -1, 1)
            .Node("Gemm", new[] { "x", "W" }, new[] { "y" }, ("transB", 1));
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 3 }, 1, -2, 3), ["y"] = T(new[] { 1, 2 }, 0, 0) };
        var model = g.Output("y").Build();
        Assert.Equal(new[] { "0" }, Neurons(Walk(model, acts, "y", new[] { 0 }).Input));
        Assert.Equal(new[] { "0", "1", "2" }, Neurons(Walk(model, acts, "y", new[] { 1 }).Input));
        // alpha = -1 flips every sign: row 0 keeps inputs 1 and 2.
        var flipped = new GraphBuilder("x", 1, 3).Initializer("W", new[] { 2, 3 }, 1, 1, -1, 1, -1, 1)
            .Node("Gemm", new[] { "x", "W" }, new[] { "y" }, ("transB", 1), ("alpha", -1f)).Output("y").Build();
        Assert.Equal(new[] { "1", "2" }, Neurons(Walk(flipped, acts, "y", new[] { 0 }).Input));
    }

    [Fact]
    public void Fully_connected_on_a_flattened_spatial_map_keeps_only_the_largest_contribution()
    {
        // x [1,2,1,2] flattened = (1, 2, 3, 4); W = (1, 1, 0.5, -1): contributions 1, 2, 1.5, -4 -> index 1 = (c0, y0, x1).
        var g = new GraphBuilder("x", 1, 2, 1, 2)
            .Node("Flatten", new[] { "x" }, new[] { "f" })
            .Initializer("W", new[] { 1, 4 }, 1, 1, 0.5f, -1)
            .Node("Gemm", new[] { "f", "W" }, new[] { "y" }, ("transB", 1));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 1, 2 }, 1, 2, 3, 4),
            ["f"] = T(new[] { 1, 4 }, 1, 2, 3, 4),
            ["y"] = T(new[] { 1, 1 }, 0),
        };
        var model = g.Output("y").Build();
        Assert.Equal(new[] { "0,0,1" }, Neurons(Walk(model, acts, "y", new[] { 0 }).Input));
        var all = new UnravelOptions { Rules = RuleFamily.Paper, FcSpatialAllPositive = true };
        Assert.Equal(new[] { "0,0,0", "0,0,1", "1,0,0" }, Neurons(Walk(model, acts, "y", new[] { 0 }, all).Input));
    }

    [Fact]
    public void A_reshape_of_a_vector_to_rank_3_is_not_spatial_and_MatMul_reads_W_as_in_by_out()
    {
        // x [1,4] -> Reshape [1,1,4] -> MatMul W[4,1] = (1, -1, 2, 0): contributions 2, -1, 2, 0 -> {0, 2}.
        var g = new GraphBuilder("x", 1, 4)
            .Int64Initializer("shape", 1, 1, 4)
            .Node("Reshape", new[] { "x", "shape" }, new[] { "r" })
            .Initializer("W", new[] { 4, 1 }, 1, -1, 2, 0)
            .Node("MatMul", new[] { "r", "W" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 4 }, 2, 1, 1, 5),
            ["r"] = T(new[] { 1, 1, 4 }, 2, 1, 1, 5),
            ["y"] = T(new[] { 1, 1, 1 }, 0),
        };
        Assert.Equal(new[] { "0", "2" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 0, 0 }).Input));
    }

    [Fact]
    public void Residual_add_sends_each_neuron_to_the_larger_input_and_ties_to_the_first()
    {
        var g = new GraphBuilder("x", 1, 3)
            .Node("Relu", new[] { "x" }, new[] { "r" })
            .Node("Sigmoid", new[] { "x" }, new[] { "s" })
            .Node("Add", new[] { "r", "s" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 3 }, 0, 0, 0),
            ["r"] = T(new[] { 1, 3 }, 1, 5, 2),
            ["s"] = T(new[] { 1, 3 }, 3, 1, 2),
            ["y"] = T(new[] { 1, 3 }, 0, 0, 0),
        };
        var model = g.Output("y").Build();
        var r0 = Walk(model, acts, "y", new[] { 0 });
        Assert.DoesNotContain(r0.Layers, l => l.Tensor == "r");
        Assert.Equal(new[] { "0" }, Neurons(Layer(r0, "s")));
        Assert.Equal(new[] { "1" }, Neurons(Layer(Walk(model, acts, "y", new[] { 1 }), "r")));
        var tie = Walk(model, acts, "y", new[] { 2 });
        Assert.Equal(new[] { "2" }, Neurons(Layer(tie, "r")));
        Assert.DoesNotContain(tie.Layers, l => l.Tensor == "s");
    }

    [Fact]
    public void An_add_with_a_constant_bias_never_chooses_the_bias()
    {
        var g = new GraphBuilder("x", 1, 2)
            .Initializer("b", new[] { 2 }, 100, 100)
            .Node("Add", new[] { "b", "x" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 2 }, -5, -5), ["y"] = T(new[] { 1, 2 }, 95, 95) };
        Assert.Equal(new[] { "1" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 1 }).Input));
    }

    [Fact]
    public void Concat_routes_each_channel_to_its_input()
    {
        var g = new GraphBuilder("x", 1, 2, 1, 1)
            .Node("Relu", new[] { "x" }, new[] { "a" })
            .Initializer("W", new[] { 3, 2, 1, 1 }, Fill(6, 1))
            .Node("Conv", new[] { "x", "W" }, new[] { "b" }, ("kernel_shape", new[] { 1, 1 }))
            .Node("Concat", new[] { "a", "b" }, new[] { "y" }, ("axis", 1));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 1, 1 }, 1, 2),
            ["a"] = T(new[] { 1, 2, 1, 1 }, 1, 2),
            ["b"] = T(new[] { 1, 3, 1, 1 }, 3, 3, 3),
            ["y"] = T(new[] { 1, 5, 1, 1 }, new float[5]),
        };
        var r = Walk(g.Output("y").Build(), acts, "y", new[] { 3, 0, 0 });
        Assert.Equal(new[] { "1,0,0" }, Neurons(Layer(r, "b")));   // channel 3 = b's channel 1
        Assert.DoesNotContain(r.Layers, l => l.Tensor == "a");
    }

    [Fact]
    public void Pad_shifts_by_the_leading_pads_and_drops_neurons_in_the_padding()
    {
        var g = new GraphBuilder("x", 1, 1, 2, 2)
            .Int64Initializer("pads", 0, 0, 1, 1, 0, 0, 1, 1)
            .Node("Pad", new[] { "x", "pads" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 2, 2 }, 1, 2, 3, 4), ["y"] = T(new[] { 1, 1, 4, 4 }, new float[16]) };
        var model = g.Output("y").Build();
        Assert.Equal(new[] { "0,0,0" }, Neurons(Walk(model, acts, "y", new[] { 0, 1, 1 }).Input));
        Assert.Equal(new[] { "0,1,0" }, Neurons(Walk(model, acts, "y", new[] { 0, 2, 1 }).Input));
        Assert.Empty(Neurons(Walk(model, acts, "y", new[] { 0, 0, 0 }).Input));
        Assert.Empty(Neurons(Walk(model, acts, "y", new[] { 0, 3, 3 }).Input));
    }

    [Fact]
    public void Squeeze_excitation_mul_follows_the_data_and_the_gate_branch_gets_nothing_even_if_unsupported()
    {
        var g = new GraphBuilder("x", 1, 2, 2, 2)
            .Node("GlobalAveragePool", new[] { "x" }, new[] { "p" })
            .Node("Sin", new[] { "p" }, new[] { "q" })          // no rule, but never reached
            .Node("Sigmoid", new[] { "q" }, new[] { "gate" })
            .Node("Mul", new[] { "gate", "x" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 2, 2 }, Seq(8)),
            ["p"] = T(new[] { 1, 2, 1, 1 }, 0, 0),
            ["q"] = T(new[] { 1, 2, 1, 1 }, 0, 0),
            ["gate"] = T(new[] { 1, 2, 1, 1 }, 0, 0),
            ["y"] = T(new[] { 1, 2, 2, 2 }, new float[8]),
        };
        var r = Walk(g.Output("y").Build(), acts, "y", new[] { 1, 1, 0 });
        Assert.Equal(new[] { "1,1,0" }, Neurons(r.Input));
        Assert.DoesNotContain(r.Layers, l => l.Tensor == "gate");
    }

    [Fact]
    public void A_tensor_read_by_several_ops_receives_the_union()
    {
        // x -> Relu (a) and Sigmoid (b) -> Concat -> Gemm with all-positive contributions: both branches send x's neurons 0 and 1.
        var g = new GraphBuilder("x", 1, 2)
            .Node("Relu", new[] { "x" }, new[] { "a" })
            .Node("Sigmoid", new[] { "x" }, new[] { "b" })
            .Node("Concat", new[] { "a", "b" }, new[] { "c" }, ("axis", 1))
            .Initializer("W", new[] { 1, 4 }, 1, 1, 1, 1)
            .Node("Gemm", new[] { "c", "W" }, new[] { "y" }, ("transB", 1));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2 }, 1, 2), ["a"] = T(new[] { 1, 2 }, 1, 2), ["b"] = T(new[] { 1, 2 }, 1, 2),
            ["c"] = T(new[] { 1, 4 }, 1, 2, 1, 2), ["y"] = T(new[] { 1, 1 }, 0),
        };
        var r = Walk(g.Output("y").Build(), acts, "y", new[] { 0 });
        Assert.Equal(new[] { "0", "1" }, Neurons(r.Input));
        Assert.Equal(2, Layer(r, "a").Count);
        Assert.Equal(2, Layer(r, "b").Count);
    }

    [Fact]
    public void Transpose_maps_each_neuron_to_its_permuted_index()
    {
        // x [1,2,3,2] (NHWC-like, H=2, W=3, C=2) -> Transpose(0,3,1,2) -> t [1,2,2,3]. Neuron t[0,c,y,x] is x[0,y,x,c].
        var g = new GraphBuilder("x", 1, 2, 3, 2)
            .Node("Transpose", new[] { "x" }, new[] { "t" }, ("perm", new[] { 0, 3, 1, 2 }))
            .Node("Relu", new[] { "t" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 3, 2 }, Enumerable.Range(0, 12).Select(i => (float)i).ToArray()),
            ["t"] = T(new[] { 1, 2, 2, 3 }, new float[12]), ["y"] = T(new[] { 1, 2, 2, 3 }, new float[12]),
        };
        var model = g.Output("y").Build();
        // t (c=1, y=0, x=2) is x (y=0, x=2, c=1); t (c=0, y=1, x=0) is x (y=1, x=0, c=0).
        Assert.Equal(new[] { "0,2,1" }, Neurons(Walk(model, acts, "y", new[] { 1, 0, 2 }).Input));
        Assert.Equal(new[] { "1,0,0" }, Neurons(Walk(model, acts, "y", new[] { 0, 1, 0 }).Input));
    }

    [Fact]
    public void An_op_without_a_rule_on_the_path_stops_with_its_type_and_node_name()
    {
        var g = new GraphBuilder("x", 1, 1, 2, 2)
            .Node("DepthToSpace", new[] { "x" }, new[] { "t" }, ("blocksize", 1))
            .Node("Relu", new[] { "t" }, new[] { "y" });
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 1, 2, 2 }, 1, 2, 3, 4), ["t"] = T(new[] { 1, 1, 2, 2 }, 1, 2, 3, 4), ["y"] = T(new[] { 1, 1, 2, 2 }, 1, 2, 3, 4),
        };
        var e = Assert.Throws<UnsupportedOperatorException>(() => Walk(g.Output("y").Build(), acts, "y", new[] { 0, 0, 1 }));
        Assert.Contains("DepthToSpace", e.Message);
        Assert.Contains("depthtospace0", e.Message);

        var custom = new GraphBuilder("x", 1, 1, 2, 2)
            .Node("Fancy", "com.example", new[] { "x" }, new[] { "t" })
            .Node("Relu", new[] { "t" }, new[] { "y" });
        var e2 = Assert.Throws<UnsupportedOperatorException>(() => Walk(custom.Output("y").Build(), acts, "y", new[] { 0, 0, 1 }));
        Assert.Contains("com.example", e2.Message);
    }

    [Fact]
    public void Concat_on_a_spatial_axis_is_an_error()
    {
        var g = new GraphBuilder("x", 1, 1, 1, 2)
            .Node("Relu", new[] { "x" }, new[] { "a" })
            .Node("Concat", new[] { "a", "x" }, new[] { "y" }, ("axis", 3));
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 1, 1, 2 }, 1, 2), ["a"] = T(new[] { 1, 1, 1, 2 }, 1, 2), ["y"] = T(new[] { 1, 1, 1, 4 }, 1, 2, 1, 2),
        };
        var e = Assert.Throws<UnsupportedOperatorException>(() => Walk(g.Output("y").Build(), acts, "y", new[] { 0, 0, 3 }));
        Assert.Contains("axis 3", e.Message);
    }

    [Fact]
    public void NaN_activations_are_never_picked_by_a_comparison()
    {
        var g = new GraphBuilder("x", 1, 1, 1, 3)
            .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new[] { 1, 3 }));
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 1, 3 }, float.NaN, 1, 2), ["y"] = T(new[] { 1, 1, 1, 1 }, float.NaN) };
        Assert.Equal(new[] { "0,0,2" }, Neurons(Walk(g.Output("y").Build(), acts, "y", new[] { 0, 0, 0 }).Input));
    }
}
