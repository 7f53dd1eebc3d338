using CnnFixations.Onnx;
using CnnFixations.Unravel;
using static CnnFixations.Tests.Unravel.WalkHarness;

namespace CnnFixations.Tests.Unravel;

/// <summary>
/// Single weighted rules (docs/cnn-fixations.md, "Weighted rules", item 2) on hand-built graphs with
/// hand-given activations; the expected numbers are worked out by hand in the comments. The walk starts
/// from given weights on the rule's output (no head) and the cell rule is off (CellShare 0).
/// </summary>
public class WeightedRuleTests
{
    private const double Tol = 1e-6;

    private static (WeightedWalk Walk, WeightedResult Result) Run(OnnxModel model, Dictionary<string, TensorValue> activations, string start,
        float[] startWeights, double flatShare = 0.5)
    {
        var options = UnravelOptions.Default with { FlatShare = flatShare, CellShare = 0 };
        var plan = UnravelPlan.Create(model, start, RuleSet.Default, options);
        var walk = new WeightedWalk(model, plan, RuleSet.Default, options, activations);
        return (walk, walk.RunFromWeights(startWeights));
    }

    private static void Equal(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tol, $"element {i}: expected {expected[i]:G9}, got {actual[i]:G9}");
    }

    // x (1 channel, 4x4), row-major:        W (3x3):
    //    1   2   0  -1                       1   0.5  -1
    //    0   1   3   0                       2   1     1
    //   -2   0   1   1                      -1  -1     1
    //    1   1   0   2
    private static readonly float[] X4 = { 1, 2, 0, -1, 0, 1, 3, 0, -2, 0, 1, 1, 1, 1, 0, 2 };
    private static readonly float[] W3 = { 1, 0.5f, -1, 2, 1, 1, -1, -1, 1 };

    private static OnnxModel Conv3x3(int pad) =>
        new GraphBuilder("x", 1, 1, 4, 4)
            .Initializer("w", new[] { 1, 1, 3, 3 }, W3)
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { pad, pad, pad, pad }))
            .Output("y").Build();

    [Fact]
    public void Conv_shares_by_positive_contribution_and_evenly()
    {
        // No padding: output 2x2. All the weight (1) on output (0,0), whose window is x rows 0-2, cols 0-2.
        // Contributions A*W, tap by tap:
        //   1*1 = 1    2*0.5 = 1    0*-1 = 0
        //   0*2 = 0    1*1   = 1    3*1  = 3
        //  -2*-1 = 2   0*-1  = 0    1*1  = 1      (a negative activation times a negative weight counts)
        // positive total S = 9; 9 in-bounds taps.
        // flat share 0.5: every tap gets 0.5/9 = 1/18, plus 0.5 * contribution / 9:
        //   1/18+1/18 = 1/9   1/9    1/18
        //   1/18              1/9    1/18 + 3/18 = 2/9
        //   1/18 + 2/18 = 1/6 1/18   1/9                        (sum 1)
        var model = Conv3x3(0);
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 4, 4 }, X4), ["y"] = T(new[] { 1, 1, 2, 2 }, 0, 0, 0, 0) };
        var (_, r) = Run(model, acts, "y", new float[] { 1, 0, 0, 0 });
        Equal(new[]
        {
            1 / 9.0, 1 / 9.0, 1 / 18.0, 0,
            1 / 18.0, 1 / 9.0, 2 / 9.0, 0,
            1 / 6.0, 1 / 18.0, 1 / 9.0, 0,
            0, 0, 0, 0,
        }, r.Input);
        Assert.Equal(1.0, r.Input.Sum(v => (double)v), 6);
    }

    [Fact]
    public void Conv_with_no_flat_share_goes_by_contribution_only()
    {
        // Same window, flat share 0: contribution / 9 each: 1/9 1/9 0 / 0 1/9 1/3 / 2/9 0 1/9.
        var model = Conv3x3(0);
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 4, 4 }, X4), ["y"] = T(new[] { 1, 1, 2, 2 }, 0, 0, 0, 0) };
        var (_, r) = Run(model, acts, "y", new float[] { 1, 0, 0, 0 }, flatShare: 0);
        Equal(new[]
        {
            1 / 9.0, 1 / 9.0, 0, 0,
            0, 1 / 9.0, 1 / 3.0, 0,
            2 / 9.0, 0, 1 / 9.0, 0,
            0, 0, 0, 0,
        }, r.Input);
    }

    [Fact]
    public void Conv_at_a_padded_corner_shares_over_the_in_bounds_taps_only()
    {
        // Pads 1: output 4x4; weight 1 on output (0,0). Its window is rows -1..1, cols -1..1; the in-bounds
        // taps are (u,v) in {1,2}x{1,2}, i.e. x(0,0), x(0,1), x(1,0), x(1,1):
        //   x(0,0)*W(1,1) = 1*1 = 1,  x(0,1)*W(1,2) = 2*1 = 2,  x(1,0)*W(2,1) = 0*-1 = 0,  x(1,1)*W(2,2) = 1*1 = 1;  S = 4.
        // Even share 0.5/4 = 0.125 per in-bounds tap (not /9), plus 0.5 * c/4:
        //   x(0,0) = 0.125 + 0.125 = 0.25,  x(0,1) = 0.125 + 0.25 = 0.375,  x(1,0) = 0.125,  x(1,1) = 0.25.
        var model = Conv3x3(1);
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 4, 4 }, X4), ["y"] = T(new[] { 1, 1, 4, 4 }, new float[16]) };
        var start = new float[16];
        start[0] = 1;
        var (_, r) = Run(model, acts, "y", start);
        Equal(new[]
        {
            0.25, 0.375, 0, 0,
            0.125, 0.25, 0, 0,
            0, 0, 0, 0,
            0, 0, 0, 0,
        }, r.Input);
    }

    [Fact]
    public void Conv_without_positive_contributions_shares_all_evenly()
    {
        // x = 0 everywhere: no tap contributes, so all of output (0,1)'s weight 0.9 goes evenly over its
        // 9 taps (rows 0-2, cols 1-3): 0.1 each, whatever the flat share.
        var model = Conv3x3(0);
        var acts = new Dictionary<string, TensorValue> { ["x"] = T(new[] { 1, 1, 4, 4 }, new float[16]), ["y"] = T(new[] { 1, 1, 2, 2 }, 0, 0, 0, 0) };
        var (_, r) = Run(model, acts, "y", new float[] { 0, 0.9f, 0, 0 });
        Equal(new[]
        {
            0, 0.1, 0.1, 0.1,
            0, 0.1, 0.1, 0.1,
            0, 0.1, 0.1, 0.1,
            0, 0, 0, 0,
        }, r.Input);
    }

    [Fact]
    public void Add_splits_by_positive_values_and_evenly_when_none_is_positive()
    {
        // y = a + b with a = Identity(x), b = Identity(x) (the activations are given by hand):
        //   a = [2, -1,  0]      b = [6, 3, -2]      weights on y = [1, 1, 0.5]
        // neuron 0: positives 2 and 6 -> a 2/8 = 0.25, b 6/8 = 0.75
        // neuron 1: only b is positive -> b 1
        // neuron 2: none positive       -> evenly: a 0.25, b 0.25
        var model = new GraphBuilder("x", 1, 1, 1, 3)
            .Node("Identity", new[] { "x" }, new[] { "a" })
            .Node("Identity", new[] { "x" }, new[] { "b" })
            .Node("Add", new[] { "a", "b" }, new[] { "y" })
            .Output("y").Build();
        var shape = new[] { 1, 1, 1, 3 };
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(shape, 0, 0, 0), ["a"] = T(shape, 2, -1, 0), ["b"] = T(shape, 6, 3, -2), ["y"] = T(shape, 8, 2, -2),
        };
        var (walk, r) = Run(model, acts, "y", new float[] { 1, 1, 0.5f });
        Equal(new[] { 0.25, 0, 0.25 }, walk.WeightsOf("a", null!));
        Equal(new[] { 0.75, 1, 0.25 }, walk.WeightsOf("b", null!));
        Equal(new[] { 1.0, 1, 0.5 }, r.Input); // both branches meet again at x
    }

    [Fact]
    public void MaxPool_ties_share_evenly()
    {
        // x (2x4):  2  5  0  0      MaxPool 2x2 stride 2 -> y (1x2); weights on y = [0.6, 0.4]
        //          -1  5  0  0
        // window 0: maximum 5 twice -> 0.3 to each of x(0,1), x(1,1); no index is preferred.
        // window 1: all four equal (0) -> 0.1 each.
        var model = new GraphBuilder("x", 1, 1, 2, 4)
            .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
            .Output("y").Build();
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 1, 2, 4 }, 2, 5, 0, 0, -1, 5, 0, 0), ["y"] = T(new[] { 1, 1, 1, 2 }, 5, 0),
        };
        var (_, r) = Run(model, acts, "y", new float[] { 0.6f, 0.4f });
        Equal(new[] { 0, 0.3, 0.1, 0.1, 0, 0.3, 0.1, 0.1 }, r.Input);
    }

    [Fact]
    public void GlobalAveragePool_shares_by_positive_inputs_and_evenly_when_none()
    {
        // x: channel 0 = [1, 3, 0, -2], channel 1 = [0, -1, -3, 0] (2x2 each); weights on y = [0.8, 0.2].
        // channel 0: positives 1 and 3 -> 0.8 * 1/4 = 0.2 and 0.8 * 3/4 = 0.6; the others nothing.
        // channel 1: nothing positive -> 0.2 evenly over 4 positions = 0.05 each.
        var model = new GraphBuilder("x", 1, 2, 2, 2)
            .Node("GlobalAveragePool", new[] { "x" }, new[] { "y" })
            .Output("y").Build();
        var acts = new Dictionary<string, TensorValue>
        {
            ["x"] = T(new[] { 1, 2, 2, 2 }, 1, 3, 0, -2, 0, -1, -3, 0), ["y"] = T(new[] { 1, 2, 1, 1 }, 0.5f, -1),
        };
        var (_, r) = Run(model, acts, "y", new float[] { 0.8f, 0.2f });
        Equal(new[] { 0.2, 0.6, 0, 0, 0.05, 0.05, 0.05, 0.05 }, r.Input);
    }
}
