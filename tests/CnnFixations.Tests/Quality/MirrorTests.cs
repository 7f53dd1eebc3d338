using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Quality;

/// <summary>
/// No rule may prefer a neuron or a position for its index: an image and its left-right and
/// top-bottom mirrors must give mirrored mean fixation positions (weighted rules: the weight's centroid) (within 0.07 of the image side),
/// on the bundled model, for the 14 photos of samples/ and tests/fixtures/photos.
/// </summary>
public class MirrorTests
{
    private const double Tolerance = 0.07;

    public static TheoryData<string> Rules() => new() { "weighted" };

    /// <summary>Every photo in the repository (the same set with or without ../shared): samples/, then tests/fixtures/photos (names not taken yet).</summary>
    private static IEnumerable<string> Photos()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var photos = new List<string>();
        foreach (var folder in new[] { TestPaths.Samples, Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "photos") })
            if (Directory.Exists(folder))
                foreach (var f in Directory.EnumerateFiles(folder, "*.png").Order(StringComparer.Ordinal))
                    if (names.Add(Path.GetFileName(f))) photos.Add(f);
        return photos;
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void Mirrored_images_give_mirrored_mean_fixations(string rules)
    {
        var options = rules switch
        {
            "weighted" => UnravelOptions.Default,
            _ => UnravelOptions.Paper,
        };
        var model = OnnxModel.Load(TestPaths.BundledModel);
        using var explainer = new Explainer(model, options);
        var pre = Preprocessing.FromMetadata(model.Metadata)!;
        var lines = new List<string>();
        var offsets = new List<(double Dx, double Dy)>();
        foreach (var path in Photos())
        {
            var image = ImageLoader.Load(path);
            var (x0, y0) = MeanPosition(explainer, image, pre, model, target: null, out int target);
            var (xl, yl) = MeanPosition(explainer, Mirror(image, horizontal: true), pre, model, target, out _);
            var (xt, yt) = MeanPosition(explainer, Mirror(image, horizontal: false), pre, model, target, out _);
            // Offsets of the mirrored runs' means, mapped back, from the original's (left-right: x; top-bottom: y).
            offsets.Add(((1 - xl) - x0, (1 - yt) - y0));
            lines.Add($"{Path.GetFileName(path)}: mean ({x0:F3},{y0:F3}), left-right mirror ({xl:F3},{yl:F3}), top-bottom mirror ({xt:F3},{yt:F3})");
        }
        double meanDx = offsets.Average(o => o.Dx), meanDy = offsets.Average(o => o.Dy);
        Assert.True(Math.Abs(meanDx) <= Tolerance && Math.Abs(meanDy) <= Tolerance,
            $"mean offset ({meanDx:F3},{meanDy:F3}) over {offsets.Count} photos\n" + string.Join("\n", lines));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void On_a_mirror_equivariant_network_the_weights_mirror_exactly(bool leftRight)
    {
        // 9x9 input; stride-1 windows and a stride-2 window on an odd size are symmetric, so flipping every
        // kernel makes the network compute the mirrored activations of the mirrored image.
        var random = new Random(7);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * 0.5f).ToArray();
        var w1 = Values(6 * 3 * 9);
        var w2 = Values(6 * 6 * 9);
        var w3 = Values(6 * 1 * 9);
        float[] Flip(float[] w) => w.Select((_, i) => { int k = i / 9, u = i % 9 / 3, v = i % 3; return leftRight ? w[k * 9 + u * 3 + (2 - v)] : w[k * 9 + (2 - u) * 3 + v]; }).ToArray();
        OnnxModel Net(bool mirrored) => OnnxModel.FromBytes(new Robustness.NetBuilder(3, 9, 9, seed: 3)
            .Conv(6, 3, pad: 1, weights: mirrored ? Flip(w1) : w1).Relu()
            .Conv(6, 3, stride: 2, pad: 1, weights: mirrored ? Flip(w2) : w2).Relu()
            .Pool("MaxPool", 3, 1, 1)
            .Conv(6, 3, pad: 1, group: 6, weights: mirrored ? Flip(w3) : w3).Relu()
            .Head(5).Bytes());
        // A random image with a flat block, so that max pooling meets ties.
        var x = Values(3 * 81);
        for (int c = 0; c < 3; c++) for (int y = 2; y < 5; y++) for (int xx = 1; xx < 5; xx++) x[c * 81 + y * 9 + xx] = 0.3f;
        int Mirror(int c, int y, int xx) => leftRight ? c * 81 + y * 9 + (8 - xx) : c * 81 + (8 - y) * 9 + xx;
        var xm = new float[x.Length];
        for (int c = 0; c < 3; c++) for (int y = 0; y < 9; y++) for (int xx = 0; xx < 9; xx++) xm[Mirror(c, y, xx)] = x[c * 81 + y * 9 + xx];

        using var plain = new Explainer(Net(false), UnravelOptions.Default);
        using var twin = new Explainer(Net(true), UnravelOptions.Default);
        var a = plain.Explain(new TensorValue(new[] { 1, 3, 9, 9 }, x));
        var b = twin.Explain(new TensorValue(new[] { 1, 3, 9, 9 }, xm), a.Target);
        for (int i = 0; i < a.Logits.Length; i++) Assert.Equal(a.Logits[i], b.Logits[i], 4);
        var wa = a.Weights!.Input;
        var wb = b.Weights!.Input;
        float max = wa.Max();
        Assert.True(max > 0);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 9; y++)
                for (int xx = 0; xx < 9; xx++)
                    Assert.True(Math.Abs(wa[c * 81 + y * 9 + xx] - wb[Mirror(c, y, xx)]) <= 1e-4 * max,
                        $"weight of ({c},{y},{xx}) {wa[c * 81 + y * 9 + xx]} vs mirrored {wb[Mirror(c, y, xx)]}");
    }

    /// <summary>The mean of the kept fixation points, as fractions of the image's width and height.</summary>
    private static (double X, double Y) MeanPosition(Explainer explainer, RgbImage image, Preprocessing pre, OnnxModel model, int? target, out int explained)
    {
        var input = ExplanationInput.FromImage(null, image, pre, model.InputShape[2], model.InputShape[3]);
        using var forward = explainer.Forward(input.Tensor);
        explained = target ?? Explainer.TopClasses(forward[explainer.LogitsTensor].Data, 1)[0];
        var e = explainer.Unravel(forward, explained);
        if (e.Weights != null)
        {
            // The weighted fixations' mean: every input pixel's weight at its image pixel.
            var (points, weights) = FixationMap.WeightedPoints(e.Weights, input);
            double total = weights.Sum();
            Assert.True(total > 0);
            return (points.Select((p, i) => weights[i] * (p.X + 0.5) / image.Width).Sum() / total,
                points.Select((p, i) => weights[i] * (p.Y + 0.5) / image.Height).Sum() / total);
        }
        var map = FixationMap.Build(e, input, MapOptions.Default);
        var kept = map.KeptPoints.Count > 0 ? map.KeptPoints : map.Points;
        Assert.NotEmpty(kept);
        return (kept.Average(p => (p.X + 0.5) / image.Width), kept.Average(p => (p.Y + 0.5) / image.Height));
    }

    internal static RgbImage Mirror(RgbImage image, bool horizontal)
    {
        int w = image.Width, h = image.Height;
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var (r, g, b) = horizontal ? image[w - 1 - x, y] : image[x, h - 1 - y];
                int o = (y * w + x) * 3;
                pixels[o] = r; pixels[o + 1] = g; pixels[o + 2] = b;
            }
        return new RgbImage(w, h, pixels);
    }
}
