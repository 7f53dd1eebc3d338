using System.Diagnostics;
using CnnFixations.Baselines;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations;

/// <summary>What to explain in one view of an image (an <see cref="ExplanationInput"/>) and how.</summary>
public sealed record ViewRequest
{
    /// <summary>The class to explain: an output index or a label; null: the <see cref="TopK"/> best.</summary>
    public string? Class { get; init; }

    /// <summary>How many of the best classes to explain when <see cref="Class"/> is null.</summary>
    public int TopK { get; init; } = 1;

    /// <summary>Walk from this neuron or channel instead of a class logit (the explainer must have been created with its tensor as the start).</summary>
    public StartPoint? Start { get; init; }

    /// <summary>A name in <see cref="ExplanationMethods"/> that <c>explain</c> offers, or "all": CNN Fixations and every baseline.</summary>
    public string Method { get; init; } = ExplanationMethods.Fixations;

    /// <summary>How fixations become a heat map and a box, and the threshold that boxes the baselines' maps.</summary>
    public MapOptions Maps { get; init; } = MapOptions.Default;

    /// <summary>How many of the best classes <see cref="ViewExplanation.Predictions"/> lists.</summary>
    public int TopPredictions { get; init; } = 5;
}

/// <summary>A baseline method's map for one target, or why the method does not apply (with <c>"all"</c> only).</summary>
/// <param name="Name">The method's name.</param>
/// <param name="Map">Its heat map, or null when it does not apply.</param>
/// <param name="Box">The method's own box when it gives one, else the heat map thresholded at <see cref="MapOptions.BoxThreshold"/>, largest region; null when none.</param>
/// <param name="NotApplicable">Why the method does not apply to the model, or null.</param>
public sealed record MethodMap(string Name, SaliencyMap? Map, int[]? Box, string? NotApplicable);

/// <summary>One explained target: the walk, the fixations' map (when CNN Fixations was asked for), and the baselines' maps.</summary>
public sealed record TargetExplanation(TensorExplanation Walk, FixationMap? Fixations, IReadOnlyList<MethodMap> Baselines);

/// <summary>The explanation of one view: the prediction and every target explained.</summary>
public sealed record ViewExplanation(IReadOnlyList<Prediction> Predictions, double ForwardMs, IReadOnlyList<TargetExplanation> Targets);

/// <summary>The five-crop protocol's explanation of one image (<see cref="ViewPipeline.ExplainFiveCrop"/>).</summary>
/// <param name="Protocol">The protocol's outcome: the mean prediction, the label, the crops unravelled and their pooled points.</param>
/// <param name="Whole">The whole image as one view (what the JSON describes as the input).</param>
/// <param name="Map">The map of the pooled points, in original-image pixels.</param>
public sealed record FiveCropExplanation(CropProtocol.Result Protocol, ExplanationInput Whole, FixationMap Map)
{
    /// <summary>The walk of the first crop unravelled (its target, logit and warnings stand for the image's).</summary>
    public TensorExplanation First => Protocol.Unravelled[0].Explanation;
}

/// <summary>
/// The per-view pipeline shared by <c>explain</c> and <see cref="FixationExplainer"/>: one forward pass, the
/// targets (a class, the k best, or a start neuron), the walk from each, its fixation map, and the baseline
/// methods' maps from the one registry (<see cref="ExplanationMethods"/>).
/// </summary>
public static class ViewPipeline
{
    /// <summary>Explains <paramref name="input"/> with <paramref name="explainer"/> as <paramref name="request"/> says.</summary>
    /// <param name="explainer">The model.</param>
    /// <param name="input">The view.</param>
    /// <param name="request">What to explain and how.</param>
    /// <param name="onPredictions">Called with the predictions right after the forward pass, before any walk (a command line prints them then).</param>
    /// <returns>The predictions and every target explained.</returns>
    public static ViewExplanation Explain(Explainer explainer, ExplanationInput input, ViewRequest request, Action<IReadOnlyList<Prediction>>? onPredictions = null)
    {
        ArgumentNullException.ThrowIfNull(explainer);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Method != "all" && ExplanationMethods.Find(request.Method) == null)
            throw new CnnFixationsException($"unknown method '{request.Method}'; available: {ExplanationMethods.Names}, all");
        var sw = Stopwatch.StartNew();
        using var forward = explainer.Forward(input.Tensor);
        double forwardMs = sw.Elapsed.TotalMilliseconds;
        var logits = forward[explainer.LogitsTensor].Data;
        var predictions = explainer.Predict(logits, Math.Min(request.TopPredictions, logits.Length));
        onPredictions?.Invoke(predictions);

        var walks = new List<TensorExplanation>();
        if (request.Start != null) walks.Add(explainer.UnravelFrom(forward, request.Start, forwardMs));
        else
        {
            int classes = logits.Length;
            int[] targets = request.Class != null
                ? new[] { LabelSet.Resolve(request.Class, explainer.Labels, classes) }
                : Explainer.TopClasses(logits, Math.Min(request.TopK, classes));
            foreach (int t in targets) walks.Add(explainer.Unravel(forward, t, forwardMs));
        }

        bool withFixations = request.Method is ExplanationMethods.Fixations or "all";
        var methods = request.Method == "all" ? ExplanationMethods.Baselines
            : request.Method == ExplanationMethods.Fixations ? Array.Empty<string>() : new[] { request.Method };
        var results = new List<TargetExplanation>();
        foreach (var walk in walks)
        {
            var map = withFixations ? FixationMap.Build(walk, input, request.Maps) : null;
            var baselines = new List<MethodMap>();
            if (walk.Start == null)
                foreach (var name in methods)
                {
                    var method = ExplanationMethods.Create(name, request.Maps);
                    if (method.NotApplicable(explainer) is { } reason)
                    {
                        if (request.Method != "all") throw new CnnFixationsException($"{name} does not apply to this model: {reason}");
                        baselines.Add(new MethodMap(name, null, null, reason));
                        continue;
                    }
                    var heat = method.Compute(explainer, input, walk.Target);
                    baselines.Add(new MethodMap(name, heat, heat.Box ?? BoxFinder.FromThreshold(heat.Heat, heat.Width, heat.Height, request.Maps.BoxThreshold), null));
                }
            results.Add(new TargetExplanation(walk, map, baselines));
        }
        return new ViewExplanation(predictions, forwardMs, results);
    }

    /// <summary>
    /// The view of <paramref name="image"/> that the network is shown for <paramref name="crops"/>: the whole image
    /// resized to the input, or (<see cref="CropMode.Center"/>) its short side resized to input*256/224 and the
    /// centre crop taken. <see cref="CropMode.Five"/> is several views: see <see cref="ExplainFiveCrop"/>.
    /// </summary>
    public static ExplanationInput Input(string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth, CropMode crops)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(preprocessing);
        switch (crops)
        {
            case CropMode.Whole:
                return ExplanationInput.FromImage(path, image, preprocessing, inputHeight, inputWidth);
            case CropMode.Center:
                int shortSide = (int)Math.Round(Math.Min(inputHeight, inputWidth) * 256.0 / 224.0);
                return ExplanationInput.Crops(path, image, preprocessing, inputHeight, inputWidth, shortSide, new[] { CropPosition.Centre }, withMirrors: false)[0];
            default:
                throw new ArgumentOutOfRangeException(nameof(crops), crops, "five crops are several views: use ViewPipeline.ExplainFiveCrop");
        }
    }

    /// <summary>
    /// Explains <paramref name="image"/> by the five-crop protocol (<see cref="CropProtocol"/>) for
    /// <paramref name="class"/> (an output index or a label; null: the protocol's label), and maps the pooled
    /// points of the crops unravelled with <paramref name="maps"/>.
    /// </summary>
    public static FiveCropExplanation ExplainFiveCrop(Explainer explainer, string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth,
        string? @class, MapOptions maps)
    {
        ArgumentNullException.ThrowIfNull(explainer);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(maps);
        int? target = @class != null ? LabelSet.Resolve(@class, explainer.Labels, int.MaxValue) : null;
        var result = CropProtocol.ExplainFiveCrop(explainer, path, image, preprocessing, inputHeight, inputWidth, target);
        if (result.Unravelled.Count == 0) throw new CnnFixationsException($"'{path ?? "(image)"}': no crop was unravelled");
        var whole = ExplanationInput.FromImage(path, image, preprocessing, inputHeight, inputWidth);
        var map = FixationMap.Build(result.Points, image.Width, image.Height, maps);
        return new FiveCropExplanation(result, whole, map);
    }

    /// <summary>
    /// The fixations of each spatial tensor of <paramref name="walk"/> projected onto the original image (the
    /// input's fixations as they are, a feature map's by the centres of their receptive fields), in the walk's
    /// order; a tensor that projects exactly like the previous one (activations, reshapes) is left out, and so
    /// are tensors without a spatial map or a receptive field.
    /// </summary>
    public static IReadOnlyList<LayerSheet.Layer> LayerPoints(Explainer explainer, ExplanationInput input, TensorExplanation walk)
    {
        ArgumentNullException.ThrowIfNull(explainer);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(walk);
        var model = explainer.Model;
        var layers = new List<LayerSheet.Layer>();
        foreach (var layer in walk.Fixations.Layers)
        {
            List<(int X, int Y)> points;
            if (layer.Tensor == model.InputName)
                points = layer.ToNeurons().Select(n => input.MapToImage(n[1], n[2])).ToList();
            else
            {
                if (!Shapes.TryChw(layer.Shape, out _, out int h, out int w) || h * w <= 1) continue;
                var field = ReceptiveField.Of(model, layer.Tensor, t => t == model.InputName ? input.Tensor.Shape : explainer.TensorShape(t));
                if (field == null) continue;
                points = layer.ToNeurons().Select(n => field.Centre(n[1], n[2])).Select(p => input.MapToImage(p.Y, p.X)).ToList();
            }
            if (layers.Count > 0 && layers[^1].Points.SequenceEqual(points)) continue;
            layers.Add(new LayerSheet.Layer(layer.Tensor, points));
        }
        return layers;
    }
}
