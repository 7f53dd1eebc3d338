using CnnFixations.Baselines;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;

namespace CnnFixations.Evaluation;

/// <summary>One image evaluated with one method (one row of evaluation.csv). Class indices are the dataset's (model index minus the label offset).</summary>
/// <param name="PointX">Where the top-1 map points (<see cref="MapStatistics.PointOf"/>); -1 when it points nowhere (all zero).</param>
/// <param name="PointingHit">The point lies within <see cref="LocalizationMetrics.PointingTolerance"/> px of a box of the top-1 class.</param>
/// <param name="PointingStrictHit">The point lies inside a box of the top-1 class (no tolerance).</param>
/// <param name="SmallObject">Every ground-truth box of the image's class covers under half the image (<see cref="MapStatistics.IsSmallObject"/>).</param>
/// <param name="Top2Class">The second-best class (dataset index).</param>
/// <param name="Top2Correlation">Pearson correlation of the maps of the top-1 and top-2 classes.</param>
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
    IReadOnlyList<bool> FixationOnlySame,
    bool PointingStrictHit = false,
    bool SmallObject = false,
    int Top2Class = -1,
    double Top2Correlation = double.NaN);

/// <summary>What one image gave: its rows, and what the grid game and the randomization check need from it.</summary>
public sealed record ImageEvaluation(IReadOnlyList<ImageResult> Rows, int PredictedClass, bool LabelRight);

/// <summary>One tile of one collage explained with one method.</summary>
/// <param name="MassInTile">The share of the map's positive mass inside the tile (<see cref="MapStatistics.MassShare"/>).</param>
/// <param name="MaxInTile">The map's point (<see cref="MapStatistics.PointOf"/>) lies inside the tile.</param>
public sealed record GridResult(string Collage, int Size, int Tile, string Image, int ClassIndex, string Method, double MassInTile, bool MaxInTile);

/// <summary>One image's map under one randomization depth: Spearman rank correlation with the map of the intact model (NaN with <see cref="Error"/> when the randomized model failed).</summary>
public sealed record RandomizationResult(string Image, string Method, int Depth, string Layer, double Spearman, string? Error = null);

/// <summary>How images are turned into network inputs for the evaluation.</summary>
public sealed record EvaluationSettings
{
    public required Preprocessing Preprocessing { get; init; }
    public required int InputHeight { get; init; }
    public required int InputWidth { get; init; }
    public int LabelOffset { get; init; }
    /// <summary>Heat-map boxes: the largest connected region at or above this fraction of the maximum.</summary>
    public double Threshold { get; init; } = 0.5;
    /// <summary>Resize the short side to input x 256/224 and take the centre crop (else the whole image is resized to the input).</summary>
    public bool CenterCrop { get; init; }
    public long MaxPixels { get; init; } = ImageLoader.DefaultMaxPixels;
}

/// <summary>
/// Evaluates saliency methods image by image with one explainer (the model is loaded once). Per image:
/// one logits-only forward pass for the top-1 and top-2 classes, each method's map for the top-1 class,
/// the top-2 class and the ground-truth class (when it differs), and 38 logits-only passes for the deletion
/// and insertion curves, whose 10%, 30% and 50% insertion steps are also the fixation-only inputs. Maps are
/// dropped as soon as the image's numbers are computed. The grid pointing game and the randomization check
/// have their own entry points.
/// </summary>
public sealed class Evaluator : IDisposable
{
    /// <summary>The deletion and insertion curves have this many equal steps (Steps + 1 points).</summary>
    public const int Steps = 20;

    /// <summary>Fixation-only accuracy keeps these fractions of the most salient input pixels.</summary>
    public static readonly IReadOnlyList<double> FixationOnlyFractions = new[] { 0.1, 0.3, 0.5 };

    private readonly Explainer _explainer;
    private readonly EvaluationSettings _settings;
    private readonly ModelSession _logitsSession;
    private readonly string[] _logitsName;
    private float[]? _blankLogits;

    public Evaluator(Explainer explainer, Preprocessing preprocessing, int inputHeight, int inputWidth, int labelOffset, double threshold)
        : this(explainer, new EvaluationSettings { Preprocessing = preprocessing, InputHeight = inputHeight, InputWidth = inputWidth, LabelOffset = labelOffset, Threshold = threshold })
    {
    }

    public Evaluator(Explainer explainer, EvaluationSettings settings)
    {
        if (!(settings.Threshold > 0) || settings.Threshold > 1) throw new CnnFixationsException($"the box threshold must be in (0, 1], got {settings.Threshold}");
        _explainer = explainer;
        _settings = settings;
        _logitsName = new[] { explainer.LogitsTensor };
        _logitsSession = new ModelSession(explainer.Model, _logitsName);
    }

    public int LabelOffset => _settings.LabelOffset;
    public double Threshold => _settings.Threshold;

    /// <summary>
    /// The name of the extra row for a method's own box, the one <c>explain</c> draws (weighted rules: the coarse
    /// blur thresholded; paper rules: the tight box of the kept points).
    /// </summary>
    public static string OwnBoxRow(string method) => method + " (own box)";

    /// <summary>The image as the network sees it (whole image resized, or the centre crop), checked against its annotated size.</summary>
    public ExplanationInput LoadInput(GroundTruthImage gt)
    {
        if (!File.Exists(gt.ImagePath)) throw new CnnFixationsException($"image '{gt.ImagePath}' not found");
        var image = ImageLoader.Load(gt.ImagePath, _settings.MaxPixels);
        if ((gt.Width is { } w && w != image.Width) || (gt.Height is { } h && h != image.Height))
            throw new CnnFixationsException($"image '{gt.ImagePath}' is {image.Width}x{image.Height} but its annotation says {gt.Width}x{gt.Height}: the boxes would not match");
        int inH = _settings.InputHeight, inW = _settings.InputWidth;
        if (!_settings.CenterCrop) return ExplanationInput.FromImage(gt.ImagePath, image, _settings.Preprocessing, inH, inW);
        int shortSide = (int)Math.Round(Math.Min(inH, inW) * 256.0 / 224.0);
        return ExplanationInput.Crops(gt.ImagePath, image, _settings.Preprocessing, inH, inW, shortSide, new[] { CropPosition.Centre }, withMirrors: false)[0];
    }

    /// <summary>The rows of one image: per applicable method one row, plus a points-box row for methods whose maps carry points.</summary>
    public ImageEvaluation EvaluateImage(GroundTruthImage gt, string name, IReadOnlyList<ISaliencyMethod> methods)
    {
        var input = LoadInput(gt);
        var logits = Logits(input.Tensor);
        foreach (var b in gt.Boxes)
            if (b.ClassIndex + LabelOffset >= logits.Length)
                throw new CnnFixationsException($"image '{name}': class {b.ClassIndex} + label offset {LabelOffset} is past the model's {logits.Length} classes");
        var top = Explainer.TopClasses(logits, 2);
        int top1 = top[0];
        int top2 = top.Length > 1 ? top[1] : -1;
        int predicted = top1 - LabelOffset;
        int gtModel = gt.ClassIndex + LabelOffset;
        bool labelRight = gt.Boxes.Any(b => b.ClassIndex == predicted);
        bool small = MapStatistics.IsSmallObject(gt.Boxes, gt.ClassIndex, input.Width, input.Height);

        var rows = new List<ImageResult>();
        foreach (var method in methods)
        {
            var map = method.Compute(_explainer, input, top1);
            CheckMap(map, input, method);
            var gtMap = top1 == gtModel ? map : method.Compute(_explainer, input, gtModel);
            CheckMap(gtMap, input, method);
            double correlation = double.NaN;
            if (top2 >= 0)
            {
                var top2Map = top2 == gtModel ? gtMap : method.Compute(_explainer, input, top2);
                CheckMap(top2Map, input, method);
                correlation = MapStatistics.Pearson(map.Heat, top2Map.Heat);
            }

            var point = MapStatistics.PointOf(map.Heat, map.Width, map.Height);
            bool hit = point is { } p && LocalizationMetrics.PointingHit(p.X, p.Y, gt.Boxes, predicted);
            bool strict = point is { } q && LocalizationMetrics.PointingHit(q.X, q.Y, gt.Boxes, predicted, tolerance: 0);
            var (deletion, insertion, same) = Curves(input, map, top1, logits);

            ImageResult Row(string rowName, int[]? topBox, int[]? gtBox)
            {
                double topIou = LocalizationMetrics.BestIou(topBox, gt.Boxes, labelRight ? predicted : gt.ClassIndex);
                double gtIou = LocalizationMetrics.BestIou(gtBox, gt.Boxes, gt.ClassIndex);
                return new ImageResult(name, rowName, gt.ClassIndex, predicted, labelRight,
                    topIou, labelRight && topIou >= LocalizationMetrics.IouThreshold,
                    gtIou, gtIou >= LocalizationMetrics.IouThreshold,
                    point?.X ?? -1, point?.Y ?? -1, hit, deletion, insertion, same,
                    strict, small, top2 >= 0 ? top2 - LabelOffset : -1, correlation);
            }

            var topBox = BoxFinder.FromThreshold(map.Heat, map.Width, map.Height, Threshold);
            var gtBox = ReferenceEquals(gtMap, map) ? topBox : BoxFinder.FromThreshold(gtMap.Heat, gtMap.Width, gtMap.Height, Threshold);
            rows.Add(Row(method.Name, topBox, gtBox));
            if (map.Points != null)
                rows.Add(Row(OwnBoxRow(method.Name), map.Box, gtMap.Box));
        }
        return new ImageEvaluation(rows, predicted, labelRight);
    }

    /// <summary>
    /// One collage of the grid pointing game: the photos are composed at the network's input size (tile i of a
    /// k x k grid is <see cref="GridPointingGame.Tile"/>), and every tile's class is explained on the collage.
    /// </summary>
    public IReadOnlyList<GridResult> EvaluateCollage(GridCollage collage, IReadOnlyList<ISaliencyMethod> methods)
    {
        int k = collage.Size, w = _settings.InputWidth, h = _settings.InputHeight;
        var photos = collage.Tiles.Select(t => ImageLoader.Load(t.ImagePath, _settings.MaxPixels)).ToList();
        var canvas = GridPointingGame.Compose(photos, k, w, h);
        var input = ExplanationInput.FromImage(null, canvas, _settings.Preprocessing, h, w);
        var results = new List<GridResult>();
        for (int i = 0; i < collage.Tiles.Count; i++)
        {
            var tile = collage.Tiles[i];
            var rect = GridPointingGame.Tile(w, h, k, i / k, i % k);
            foreach (var method in methods)
            {
                var map = method.Compute(_explainer, input, tile.ClassIndex + LabelOffset);
                CheckMap(map, input, method);
                var point = MapStatistics.PointOf(map.Heat, map.Width, map.Height);
                results.Add(new GridResult(collage.Label, k, i, tile.Name, tile.ClassIndex, method.Name,
                    MapStatistics.MassShare(map.Heat, map.Width, rect), point is { } p && rect.Contains(p.X, p.Y)));
            }
        }
        return results;
    }

    /// <summary>
    /// The cascading randomization check on the given images (name, ground truth, dataset class explained):
    /// for each depth d, the model with its top d weighted layers randomized (<see cref="WeightRandomization.Randomize"/>)
    /// is loaded with the same unravel options, and each method's map of the same class is compared with the
    /// intact model's map by Spearman rank correlation.
    /// </summary>
    public IReadOnlyList<RandomizationResult> RandomizationCheck(IReadOnlyList<(string Name, GroundTruthImage Image, int ClassIndex)> images,
        IReadOnlyList<ISaliencyMethod> methods, IReadOnlyList<WeightedLayer> layers, IReadOnlyList<int> depths, long seed, string? outputName,
        Action<int>? progress = null)
    {
        var inputs = images.Select(i => LoadInput(i.Image)).ToList();
        var originals = new List<float[][]>();
        for (int i = 0; i < images.Count; i++)
            originals.Add(methods.Select(m => m.Compute(_explainer, inputs[i], images[i].ClassIndex + LabelOffset).Heat).ToArray());
        var results = new List<RandomizationResult>();
        foreach (int depth in depths)
        {
            string layer = layers[layers.Count - depth].Node;
            var model = WeightRandomization.Randomize(_explainer.Model, layers, depth, seed);
            using var randomized = new Explainer(model, _explainer.Options, outputName);
            for (int i = 0; i < images.Count; i++)
                for (int m = 0; m < methods.Count; m++)
                {
                    try
                    {
                        var map = methods[m].Compute(randomized, inputs[i], images[i].ClassIndex + LabelOffset);
                        CheckMap(map, inputs[i], methods[m]);
                        results.Add(new RandomizationResult(images[i].Name, methods[m].Name, depth, layer, MapStatistics.Spearman(originals[i][m], map.Heat)));
                    }
                    catch (CnnFixationsException e)
                    {
                        results.Add(new RandomizationResult(images[i].Name, methods[m].Name, depth, layer, double.NaN, e.Message));
                    }
                }
            progress?.Invoke(depth);
        }
        return results;
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
