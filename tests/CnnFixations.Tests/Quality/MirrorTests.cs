using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Quality;

/// <summary>
/// No rule may prefer a neuron or a position for its index: an image and its left-right and
/// top-bottom mirrors must give mirrored mean fixation positions (weighted rules: the weight's centroid) (within 0.07 of the image side),
/// on the bundled model, for the photos in samples/ and, when present, ../shared/images.
/// </summary>
public class MirrorTests
{
    private const double Tolerance = 0.07;

    public static TheoryData<string> Rules() => new() { "weighted" };

    private static IEnumerable<string> Photos()
    {
        foreach (var f in Directory.EnumerateFiles(TestPaths.Samples, "*.png").Order(StringComparer.Ordinal)) yield return f;
        string shared = Path.Combine(TestPaths.Shared, "images");
        if (Directory.Exists(shared))
            foreach (var f in Directory.EnumerateFiles(shared, "*.png").Order(StringComparer.Ordinal).Take(5)) yield return f;
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void Mirrored_images_give_mirrored_mean_fixations(string rules)
    {
        var options = rules == "weighted" ? UnravelOptions.Default : UnravelOptions.Paper;
        var model = OnnxModel.Load(TestPaths.BundledModel);
        using var explainer = new Explainer(model, options);
        var pre = Preprocessing.FromMetadata(model.Metadata)!;
        var failures = new List<string>();
        foreach (var path in Photos())
        {
            var image = ImageLoader.Load(path);
            var (x0, y0) = MeanPosition(explainer, image, pre, model, target: null, out int target);
            var (xl, yl) = MeanPosition(explainer, Mirror(image, horizontal: true), pre, model, target, out _);
            var (xt, yt) = MeanPosition(explainer, Mirror(image, horizontal: false), pre, model, target, out _);
            double dx = Math.Abs(x0 - (1 - xl)), dyl = Math.Abs(y0 - yl), dy = Math.Abs(y0 - (1 - yt)), dxt = Math.Abs(x0 - xt);
            double worst = new[] { dx, dyl, dy, dxt }.Max();
            if (worst > Tolerance)
                failures.Add($"{Path.GetFileName(path)}: mean ({x0:F3},{y0:F3}), left-right mirror ({xl:F3},{yl:F3}), top-bottom mirror ({xt:F3},{yt:F3})");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
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
