using CnnFixations.Baselines;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;

namespace CnnFixations.Evaluation;

/// <summary>One image evaluated with one method (one row of evaluation.csv). Class indices are the dataset's (model index minus the label offset).</summary>
public sealed record ImageResult(
    string Image,
    string Method,
    int GtClass,
    int PredictedClass,
    bool LabelRight,
    double TopOneIou,
    bool TopOneLocalized,
    double GtKnownIou,
    bool GtKnownLocalized,
    int PointX,
    int PointY,
    bool PointingHit,
    double DeletionAuc,
    double InsertionAuc,
    IReadOnlyList<bool> FixationOnlySame);

/// <summary>
/// Evaluates saliency methods image by image with one explainer (the model is loaded once). Per image:
/// one logits-only forward pass for the top-1 class, each method's map for the top-1 class (and for the
/// ground-truth class when it differs), and 38 logits-only passes for the deletion and insertion curves,
/// whose 10%, 30% and 50% insertion steps are also the fixation-only inputs. Maps are dropped as soon as
/// the image's numbers are computed.
/// </summary>
public sealed class Evaluator : IDisposable
{
    /// <summary>The deletion and insertion curves have this many equal steps (Steps + 1 points).</summary>
    public const int Steps = 20;

    /// <summary>Fixation-only accuracy keeps these fractions of the most salient input pixels.</summary>
    public static readonly IReadOnlyList<double> FixationOnlyFractions = new[] { 0.1, 0.3, 0.5 };

    private readonly Explainer _explainer;
    private readonly Preprocessing _preprocessing;
    private readonly int _inputH, _inputW;
    private readonly ModelSession _logitsSession;
    private readonly string[] _logitsName;
    private float[]? _blankLogits;

    public Evaluator(Explainer explainer, Preprocessing preprocessing, int inputHeight, int inputWidth, int labelOffset, double threshold)
    {
        if (!(threshold > 0) || threshold > 1) throw new CnnFixationsException($"the box threshold must be in (0, 1], got {threshold}");
        _explainer = explainer;
        _preprocessing = preprocessing;
        _inputH = inputHeight;
        _inputW = inputWidth;
        LabelOffset = labelOffset;
        Threshold = threshold;
        _logitsName = new[] { explainer.LogitsTensor };
        _logitsSession = new ModelSession(explainer.Model, _logitsName);
    }

    public int LabelOffset { get; }
    public double Threshold { get; }

    /// <summary>The name of the extra row for a method's own box around its points.</summary>
    public static string PointsBoxRow(string method) => method + " (points box)";

    /// <summary>The rows of one image: per applicable method one row, plus a points-box row for methods whose maps carry points.</summary>
    public IReadOnlyList<ImageResult> EvaluateImage(GroundTruthImage gt, string name, IReadOnlyList<ISaliencyMethod> methods)
    {
        if (!File.Exists(gt.ImagePath)) throw new CnnFixationsException($"image '{gt.ImagePath}' not found");
        var input = ExplanationInput.FromImage(gt.ImagePath, _preprocessing, _inputH, _inputW);
        if ((gt.Width is { } w && w != input.Width) || (gt.Height is { } h && h != input.Height))
            throw new CnnFixationsException($"image '{gt.ImagePath}' is {input.Width}x{input.Height} but its annotation says {gt.Width}x{gt.Height}: the boxes would not match");
        var logits = Logits(input.Tensor);
        foreach (var b in gt.Boxes)
            if (b.ClassIndex + LabelOffset >= logits.Length)
                throw new CnnFixationsException($"image '{name}': class {b.ClassIndex} + label offset {LabelOffset} is past the model's {logits.Length} classes");
        int top1 = Explainer.TopClasses(logits, 1)[0];
        int predicted = top1 - LabelOffset;
        int gtModel = gt.ClassIndex + LabelOffset;
        bool labelRight = gt.Boxes.Any(b => b.ClassIndex == predicted);

        var rows = new List<ImageResult>();
        foreach (var method in methods)
        {
            var map = method.Compute(_explainer, input, top1);
            CheckMap(map, input, method);
            var gtMap = top1 == gtModel ? map : method.Compute(_explainer, input, gtModel);
            CheckMap(gtMap, input, method);

            var point = LocalizationMetrics.ArgMax(map.Heat, map.Width);
            bool hit = map.Heat[point.Y * map.Width + point.X] > 0 && LocalizationMetrics.PointingHit(point.X, point.Y, gt.Boxes, predicted);
            var (deletion, insertion, same) = Curves(input, map, top1, logits);

            ImageResult Row(string rowName, int[]? topBox, int[]? gtBox)
            {
                double topIou = LocalizationMetrics.BestIou(topBox, gt.Boxes, labelRight ? predicted : gt.ClassIndex);
                double gtIou = LocalizationMetrics.BestIou(gtBox, gt.Boxes, gt.ClassIndex);
                return new ImageResult(name, rowName, gt.ClassIndex, predicted, labelRight,
                    topIou, labelRight && topIou >= LocalizationMetrics.IouThreshold,
                    gtIou, gtIou >= LocalizationMetrics.IouThreshold,
                    point.X, point.Y, hit, deletion, insertion, same);
            }

            var topBox = BoxFinder.FromThreshold(map.Heat, map.Width, map.Height, Threshold);
            var gtBox = ReferenceEquals(gtMap, map) ? topBox : BoxFinder.FromThreshold(gtMap.Heat, gtMap.Width, gtMap.Height, Threshold);
            rows.Add(Row(method.Name, topBox, gtBox));
            if (map.Points != null)
                rows.Add(Row(PointsBoxRow(method.Name), map.Box, gtMap.Box));
        }
        return rows;
    }

    private static void CheckMap(SaliencyMap map, ExplanationInput input, ISaliencyMethod method)
    {
        if (map.Width != input.Width || map.Height != input.Height || map.Heat.Length != (long)map.Width * map.Height)
            throw new CnnFixationsException($"method '{method.Name}' returned a {map.Width}x{map.Height} map ({map.Heat.Length} values) for a {input.Width}x{input.Height} image");
    }

    /// <summary>
    /// Deletion: the top k/20 of the input pixels (all channels) set to 0, the preprocessing mean after
    /// normalization; insertion: an all-zero (mean) input with the top k/20 restored. The curves track the
    /// softmax probability of <paramref name="target"/>; insertion steps 2, 6 and 10 are the fixation-only inputs.
    /// </summary>
    private (double Deletion, double Insertion, bool[] FixationOnlySame) Curves(ExplanationInput input, SaliencyMap map, int target, float[] logits)
    {
        var original = input.Tensor;
        int channels = original.Shape[1], h = original.Shape[2], w = original.Shape[3];
        int plane = h * w;
        var saliency = new float[plane];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                var (ix, iy) = input.MapToImage(y, x);
                ix = Math.Clamp(ix, 0, map.Width - 1);
                iy = Math.Clamp(iy, 0, map.Height - 1);
                saliency[y * w + x] = map.Heat[iy * map.Width + ix];
            }
        }
        var order = LocalizationMetrics.SaliencyOrder(saliency);
        _blankLogits ??= Logits(new TensorValue(original.Shape, new float[original.Data.Length]));
        double pOriginal = Explainer.Softmax(logits)[target];
        double pBlank = Explainer.Softmax(_blankLogits)[target];

        var deletion = new double[Steps + 1];
        var insertion = new double[Steps + 1];
        deletion[0] = insertion[Steps] = pOriginal;
        deletion[Steps] = insertion[0] = pBlank;
        var fixationSteps = FixationOnlyFractions.Select(f => (int)Math.Round(f * Steps)).ToArray();
        var same = new bool[fixationSteps.Length];
        var deleted = (float[])original.Data.Clone();
        var inserted = new float[original.Data.Length];
        var deletedTensor = new TensorValue(original.Shape, deleted);
        var insertedTensor = new TensorValue(original.Shape, inserted);
        int done = 0;
        for (int k = 1; k < Steps; k++)
        {
            int count = LocalizationMetrics.StepCount(k, Steps, plane);
            for (; done < count; done++)
            {
                int p = order[done];
                for (int c = 0; c < channels; c++)
                {
                    deleted[c * plane + p] = 0;
                    inserted[c * plane + p] = original.Data[c * plane + p];
                }
            }
            deletion[k] = Explainer.Softmax(Logits(deletedTensor))[target];
            var insertedLogits = Logits(insertedTensor);
            insertion[k] = Explainer.Softmax(insertedLogits)[target];
            int f = Array.IndexOf(fixationSteps, k);
            if (f >= 0) same[f] = Explainer.TopClasses(insertedLogits, 1)[0] == target;
        }
        return (LocalizationMetrics.TrapezoidAuc(deletion), LocalizationMetrics.TrapezoidAuc(insertion), same);
    }

    private float[] Logits(TensorValue input) => _logitsSession.Run(input, _logitsName)[_logitsName[0]].Data;

    public void Dispose() => _logitsSession.Dispose();
}
