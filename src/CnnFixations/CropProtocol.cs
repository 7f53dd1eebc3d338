using CnnFixations.Imaging;
using CnnFixations.Inference;

namespace CnnFixations;

/// <summary>The views of an image the network is shown.</summary>
public enum CropMode
{
    /// <summary>The whole image resized to the input (the default).</summary>
    Whole,
    /// <summary>Short side resized to input*256/224 (rounded), then the centre crop of the input size.</summary>
    Center,
    /// <summary>The authors' protocol: short side 256, four corners and the centre plus mirrors; see <see cref="CropProtocol"/>.</summary>
    Five,
}

/// <summary>One crop that was unravelled, with its explanation.</summary>
public sealed record CropExplanation(ExplanationInput Crop, TensorExplanation Explanation);

/// <summary>
/// The spec's five-crop protocol: label = argmax of the mean of the ten crops' softmax (or, if that is
/// not the top-1 of any of the five unmirrored crops, the centre crop's top-1); every unmirrored crop
/// whose own top-1 equals the label is unravelled, and the points of all of them are pooled without
/// merging duplicates. With an explicit target class, every unmirrored crop is unravelled for it.
/// </summary>
public static class CropProtocol
{
    /// <summary>The short side the image is resized to before the crops are taken.</summary>
    public const int FiveCropShortSide = 256;

    /// <summary>The protocol's outcome.</summary>
    /// <param name="Predictions">The top five of the mean of the ten crops' softmax.</param>
    /// <param name="Label">The class explained.</param>
    /// <param name="Unravelled">The crops that were unravelled for <paramref name="Label"/>.</param>
    /// <param name="Points">Their fixations in original-image pixels, pooled.</param>
    public sealed record Result(IReadOnlyList<Prediction> Predictions, int Label, IReadOnlyList<CropExplanation> Unravelled, IReadOnlyList<(int X, int Y)> Points);

    /// <summary>Runs the protocol on <paramref name="image"/> (read from <paramref name="path"/>, if any) for the given target class, or the protocol's label when null.</summary>
    public static Result ExplainFiveCrop(Explainer explainer, string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth, int? target)
    {
        var positions = new[] { CropPosition.TopLeft, CropPosition.TopRight, CropPosition.BottomLeft, CropPosition.BottomRight, CropPosition.Centre };
        var crops = ExplanationInput.Crops(path, image, preprocessing, inputHeight, inputWidth, FiveCropShortSide, positions, withMirrors: true);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var passes = new List<(ExplanationInput Crop, ForwardPass Forward, int Top)>();
        double[]? mean = null;
        try
        {
            foreach (var crop in crops)
            {
                var forward = explainer.Forward(crop.Tensor);
                var logits = forward[explainer.LogitsTensor].Data;
                var probabilities = Explainer.Softmax(logits);
                mean ??= new double[probabilities.Length];
                for (int i = 0; i < mean.Length; i++) mean[i] += probabilities[i] / crops.Count;
                passes.Add((crop, forward, Explainer.TopClasses(logits, 1)[0]));
            }
            double forwardMs = sw.Elapsed.TotalMilliseconds;
            var order = Enumerable.Range(0, mean!.Length).OrderByDescending(i => mean[i]).ThenBy(i => i).ToList();
            var predictions = order.Take(5).Select(i => new Prediction(i, explainer.Labels?[i], mean[i])).ToList();
            var unmirrored = passes.Where(p => !p.Crop.Geometry.Region.Mirrored).ToList();
            int label = target ?? order[0];
            if (target == null && unmirrored.All(p => p.Top != label))
                label = unmirrored.Single(p => p.Crop.Name == "centre").Top;
            var chosen = target != null ? unmirrored : unmirrored.Where(p => p.Top == label).ToList();
            var unravelled = new List<CropExplanation>();
            var points = new List<(int X, int Y)>();
            foreach (var (crop, forward, _) in chosen)
            {
                var e = explainer.Unravel(forward, label, forwardMs / crops.Count);
                unravelled.Add(new CropExplanation(crop, e));
                foreach (var n in e.Fixations.Input.ToNeurons()) points.Add(crop.MapToImage(n[1], n[2]));
            }
            return new Result(predictions, label, unravelled, points);
        }
        finally
        {
            foreach (var p in passes) p.Forward.Dispose();
        }
    }
}
