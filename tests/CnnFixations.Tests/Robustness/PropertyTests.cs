using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;
using CnnFixations.Unravel;
using CnnFixations.Unravel.Rules;
using CsCheck;

namespace CnnFixations.Tests.Robustness;

/// <summary>
/// Properties checked on many generated cases (CsCheck generators driven by a fixed seed, so every
/// run checks the same cases): window geometry and coordinate mapping land inside the input, the
/// mapping is monotone, heat maps are finite and in [0,1], and the walk on random small conv nets
/// run by ONNX Runtime never throws and fixates only inside the input.
/// </summary>
public sealed class PropertyTests
{
    /// <summary>
    /// Checks <paramref name="check"/> on <paramref name="count"/> values of <paramref name="gen"/> drawn
    /// from a PCG with a fixed seed; a failure names the case and the CsCheck seed that reproduces it
    /// (<c>gen.Sample(check, seed: "...", iter: 1)</c>).
    /// </summary>
    private static void ForAll<T>(Gen<T> gen, int count, ulong seed, Action<T> check)
    {
        var pcg = new PCG(1, seed);
        for (int i = 0; i < count; i++)
        {
            string reproduce = pcg.ToString();
            T value = gen.Generate(pcg, null, out _);
            try
            {
                check(value);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"case {i} failed (CsCheck seed \"{reproduce}\"): {Check.Print(value)}\n{e}");
            }
        }
    }

    // ---- Window geometry ------------------------------------------------------------------------

    private static readonly Gen<(int Kernel, int Stride, int Dilation, int Pad, int In, string AutoPad)> WindowAxis =
        Gen.Select(Gen.Int[1, 7], Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int[0, 6], Gen.Int[1, 40], Gen.OneOf("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"))
            .Where(t => t.Item4 < t.Item1 * t.Item3) // ONNX: pads smaller than the dilated kernel
            .Where(t => OutSize(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6) >= 1);

    private static int OutSize(int kernel, int stride, int dilation, int pad, int size, string autoPad) => autoPad switch
    {
        "SAME_UPPER" or "SAME_LOWER" => (size + stride - 1) / stride,
        "VALID" => NetBuilder.OutSize(size, kernel, stride, 0, dilation),
        _ => NetBuilder.OutSize(size, kernel, stride, pad, dilation),
    };

    private static GraphNode PoolNode(int kh, int kw, int sh, int sw, int dh, int dw, int ph, int pw, string autoPad)
    {
        AttributeProto Ints(string name, params long[] v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(v);
            return a;
        }
        var attributes = new[]
        {
            Ints("kernel_shape", kh, kw), Ints("strides", sh, sw), Ints("dilations", dh, dw), Ints("pads", ph, pw, ph, pw),
            new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(autoPad) },
        };
        return new GraphNode(0, "MaxPool", "", "pool", new[] { "x" }, new[] { "y" }, new NodeAttributes(attributes));
    }

    [Fact]
    public void Receptive_field_centres_lie_inside_the_input()
    {
        var gen = Gen.Select(WindowAxis, WindowAxis).Where(t => t.Item1.AutoPad == t.Item2.AutoPad);
        ForAll(gen, 3000, 0x5EED_0001, t =>
        {
            var (v, h) = t;
            int outH = OutSize(v.Kernel, v.Stride, v.Dilation, v.Pad, v.In, v.AutoPad);
            int outW = OutSize(h.Kernel, h.Stride, h.Dilation, h.Pad, h.In, h.AutoPad);
            var node = PoolNode(v.Kernel, h.Kernel, v.Stride, h.Stride, v.Dilation, h.Dilation, v.Pad, h.Pad, v.AutoPad);
            var window = Window2D.Of(node, v.Kernel, h.Kernel, v.In, h.In, outH, outW);
            for (int y = 0; y < outH; y++)
            {
                for (int x = 0; x < outW; x++)
                {
                    var (row, col) = window.Centre(y, x, v.In, h.In);
                    Assert.InRange(row, 0, v.In - 1);
                    Assert.InRange(col, 0, h.In - 1);
                }
            }
        });
    }

    // ---- Mapping network-input pixels back to the image ----------------------------------------

    private static readonly Gen<(InputRegion Region, int InputH, int InputW)> Regions =
        Gen.Select(Gen.Int[0, 300], Gen.Int[0, 300], Gen.Int[1, 5000], Gen.Int[1, 5000], Gen.Bool, Gen.Int[1, 400], Gen.Int[1, 400])
            .Select((x, y, w, h, mirrored, ih, iw) => (new InputRegion(x, y, w, h, mirrored), ih, iw));

    [Fact]
    public void Input_pixels_map_inside_their_region_and_monotonically()
    {
        ForAll(Regions, 400, 0x5EED_0002, t =>
        {
            var (r, ih, iw) = t;
            // Along a row: x moves one way (the other when mirrored), y stays.
            foreach (int y in new[] { 0, ih / 2, ih - 1 })
            {
                (int X, int Y) previous = default;
                for (int x = 0; x < iw; x++)
                {
                    var p = r.MapToImage(y, x, ih, iw);
                    Assert.InRange(p.X, r.X, r.X + r.Width - 1);
                    Assert.InRange(p.Y, r.Y, r.Y + r.Height - 1);
                    if (x > 0)
                    {
                        Assert.Equal(previous.Y, p.Y);
                        Assert.True(r.Mirrored ? p.X <= previous.X : p.X >= previous.X, $"x={x}: {previous} then {p}");
                    }
                    previous = p;
                }
            }
            // Down a column: y never decreases.
            foreach (int x in new[] { 0, iw - 1 })
            {
                int previousY = int.MinValue;
                for (int y = 0; y < ih; y++)
                {
                    var p = r.MapToImage(y, x, ih, iw);
                    Assert.InRange(p.Y, r.Y, r.Y + r.Height - 1);
                    Assert.True(p.Y >= previousY);
                    previousY = p.Y;
                }
            }
        });
    }

    [Fact]
    public void Resized_images_map_back_inside_the_original_and_monotonically()
    {
        var gen = Gen.Select(Gen.Int[1, 70], Gen.Int[1, 70], Gen.Int[1, 48], Gen.Int[1, 48], Gen.Int[0, 1 << 30]);
        ForAll(gen, 150, 0x5EED_0003, t =>
        {
            var (w, h, iw, ih, seed) = t;
            var random = new Random(seed);
            var pixels = new byte[3 * w * h];
            random.NextBytes(pixels);
            var input = ExplanationInput.FromImage(null, new RgbImage(w, h, pixels), Preprocessing.Torchvision, ih, iw);
            Assert.Equal(new[] { 1, 3, ih, iw }, input.Tensor.Shape);
            Assert.All(input.Tensor.Data, v => Assert.True(float.IsFinite(v)));
            var last = (X: -1, Y: -1);
            for (int y = 0; y < ih; y++)
            {
                for (int x = 0; x < iw; x++)
                {
                    var p = input.MapToImage(y, x);
                    Assert.InRange(p.X, 0, w - 1);
                    Assert.InRange(p.Y, 0, h - 1);
                    if (x > 0) Assert.True(p.X >= last.X);
                    last = p;
                }
            }
            // No drift: mirror-image input pixels land on mirror-image image pixels (within the one pixel
            // that flooring a centre lying on a pixel border may move it).
            for (int x = 0; x < iw; x++)
            {
                int sum = input.MapToImage(0, x).X + input.MapToImage(0, iw - 1 - x).X;
                Assert.InRange(sum, w - 1, w);
            }
            for (int y = 0; y < ih; y++)
            {
                int sum = input.MapToImage(y, 0).Y + input.MapToImage(ih - 1 - y, 0).Y;
                Assert.InRange(sum, h - 1, h);
            }
        });
    }

    // ---- Heat maps ------------------------------------------------------------------------------

    [Fact]
    public void Heat_maps_are_finite_and_between_zero_and_one()
    {
        var gen = Gen.Select(Gen.Int[1, 300], Gen.Int[1, 300], Gen.OneOf(Gen.Const(0.0), Gen.Double[0.01, 60]),
            Gen.Select(Gen.Int[-20, 320], Gen.Int[-20, 320]).Array[0, 60]);
        ForAll(gen, 150, 0x5EED_0004, t =>
        {
            var (w, h, sigma, points) = t;
            var heat = HeatMap.FromPoints(points, w, h, sigma);
            Assert.Equal(w * h, heat.Length);
            Assert.All(heat, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1, $"value {v}"));
            bool anyInside = points.Any(p => p.Item1 >= 0 && p.Item1 < w && p.Item2 >= 0 && p.Item2 < h);
            Assert.Equal(anyInside ? 1f : 0f, heat.Max());

            var map = FixationMap.Build(points, w, h, new MapOptions { Sigma = sigma });
            Assert.All(map.Heat, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1));
            if (map.Box is { } box)
                Assert.True(box[0] <= box[2] && box[1] <= box[3]);
        });
    }

    // ---- The walk on random small conv nets, run by ONNX Runtime -------------------------------

    /// <summary>A random net: input channels and size, layer codes, a seed for layer parameters and weights, classes, options.</summary>
    private static readonly Gen<(int Channels, int Size, int[] Layers, int Seed, int Classes, int Options)> Nets =
        Gen.Select(Gen.Int[1, 4], Gen.Int[3, 20], Gen.Int[0, 6].Array[1, 6], Gen.Int[0, 1 << 30], Gen.Int[2, 6], Gen.Int[0, 15]);

    /// <summary>Builds the net of a generated case; layers that would not fit (too small a map) are skipped.</summary>
    private static NetBuilder BuildNet((int Channels, int Size, int[] Layers, int Seed, int Classes, int Options) spec)
    {
        var random = new Random(spec.Seed);
        var net = new NetBuilder(spec.Channels, spec.Size, spec.Size, spec.Seed);
        foreach (int code in spec.Layers)
        {
            switch (code)
            {
                case 0:
                case 1:
                {
                    int k = random.Next(3) * 2 + 1, stride = random.Next(1, 3), pad = random.Next(0, k / 2 + 1), dilation = random.Next(1, 3);
                    int groups = net.C % 2 == 0 && random.Next(3) == 0 ? 2 : 1;
                    int outC = groups * random.Next(1, 4);
                    if (NetBuilder.OutSize(net.H, k, stride, pad, dilation) >= 1 && NetBuilder.OutSize(net.W, k, stride, pad, dilation) >= 1)
                        net.Conv(outC, k, stride, pad, groups, dilation);
                    break;
                }
                case 2:
                    net.Relu();
                    break;
                case 3:
                case 4:
                {
                    int k = random.Next(2, 4), stride = random.Next(1, 3), pad = random.Next(0, k / 2 + 1);
                    if (NetBuilder.OutSize(net.H, k, stride, pad) >= 1 && NetBuilder.OutSize(net.W, k, stride, pad) >= 1)
                        net.Pool(code == 3 ? "MaxPool" : "AveragePool", k, stride, pad);
                    break;
                }
                case 5:
                    net.Branches("Concat", random.Next(1, 4), random.Next(1, 4));
                    break;
                default:
                    net.Branches("Add", random.Next(1, 4), 0);
                    break;
            }
        }
        // Either the usual pooled head, or a fully connected layer straight on the flattened map.
        if ((spec.Options & 4) != 0 && net.C * net.H * net.W <= 400) net.Flatten();
        if ((spec.Options & 8) != 0)
        {
            // A hidden fully connected layer before the classifier.
            if (!net.Flat) net.GlobalAveragePool().Flatten();
            net.Gemm(random.Next(2, 9)).Relu();
        }
        return net.Head(spec.Classes);
    }

    [Fact]
    public void The_walk_on_random_conv_nets_never_throws_and_stays_inside_the_input()
    {
        int withFixations = 0;
        ForAll(Nets, 150, 0x5EED_0005, spec =>
        {
            var net = BuildNet(spec);
            var options = new UnravelOptions
            {
                ConvPosition = (spec.Options & 1) != 0 ? ConvPosition.Refine : ConvPosition.Centre,
                FcSpatialAllPositive = (spec.Options & 2) != 0,
                GlobalPoolAllPositive = (spec.Options & 2) != 0,
            };
            using var explainer = new Explainer(OnnxModel.FromBytes(net.Bytes()), options, intraOpThreads: 1);
            var random = new Random(spec.Seed);
            ExplanationInput? image = null;
            TensorValue tensor;
            if (spec.Channels == 3)
            {
                int w = random.Next(1, 60), h = random.Next(1, 60);
                var pixels = new byte[3 * w * h];
                random.NextBytes(pixels);
                image = ExplanationInput.FromImage(null, new RgbImage(w, h, pixels), Preprocessing.Torchvision, spec.Size, spec.Size);
                tensor = image.Tensor;
            }
            else
            {
                var data = new float[spec.Channels * spec.Size * spec.Size];
                for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 4 - 2);
                tensor = new TensorValue(new[] { 1, spec.Channels, spec.Size, spec.Size }, data);
            }

            var forward = explainer.Forward(tensor);
            int classes = explainer.ClassCount(forward);
            Assert.Equal(spec.Classes, classes);
            foreach (int target in new[] { Explainer.TopClasses(forward[explainer.LogitsTensor].Data, 1)[0], classes - 1 })
            {
                var explanation = explainer.Unravel(forward, target);
                Assert.Empty(explanation.Warnings);
                var fixations = explanation.Fixations.Input;
                Assert.Equal(new[] { 1, spec.Channels, spec.Size, spec.Size }, fixations.Shape);
                foreach (var n in fixations.ToNeurons())
                {
                    Assert.InRange(n[0], 0, spec.Channels - 1);
                    Assert.InRange(n[1], 0, spec.Size - 1);
                    Assert.InRange(n[2], 0, spec.Size - 1);
                }
                if (fixations.Count > 0) withFixations++;
                if (image != null)
                {
                    var map = FixationMap.Build(fixations, image);
                    Assert.All(map.Points, p => Assert.True(p.X >= 0 && p.X < image.Width && p.Y >= 0 && p.Y < image.Height, $"{p}"));
                    Assert.All(map.Heat, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1));
                }
            }
        });
        // The property is not vacuous: most walks reach the input.
        Assert.True(withFixations > 150, $"only {withFixations} of 300 walks reached the input");
    }
}
