using System.Diagnostics;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;
using SkiaSharp;

namespace CnnFixations;

/// <summary>How a <see cref="FixationExplainer"/> reads its model (fixed for its lifetime).</summary>
public sealed record FixationExplainerOptions
{
    /// <summary>The specification's defaults everywhere.</summary>
    public static readonly FixationExplainerOptions Default = new();

    /// <summary>The walk's options (default: the specification's).</summary>
    public UnravelOptions Walk { get; init; } = UnravelOptions.Default;

    /// <summary>A preprocessing preset (torchvision, caffe, tf) that replaces the model's; null: the model's metadata, else torchvision.</summary>
    public string? Preset { get; init; }

    /// <summary>Changes to the chosen preprocessing (what <c>explain --mean/--std/--scale/--bgr</c> do); null: none.</summary>
    public PreprocessingAdjustments? Adjustments { get; init; }

    /// <summary>The input's layout when the model does not say it (what <c>explain --layout</c> does); null: detected as <c>explain</c> does.</summary>
    public InputLayout? Layout { get; init; }

    /// <summary>The preprocessing itself, replacing <see cref="Preset"/>, <see cref="Adjustments"/> and the model's metadata; null: chosen as <c>explain</c> chooses it (<see cref="ModelConventions.ChoosePreprocessing"/>).</summary>
    public Preprocessing? Preprocessing { get; init; }

    /// <summary>The size images are resized to, for models whose input size is not fixed; null: the model's (its fixed size, else its metadata input_size).</summary>
    public (int Height, int Width)? InputSize { get; init; }

    /// <summary>The class scores' output when the model has several; null: the one shaped like a classifier's.</summary>
    public string? OutputName { get; init; }

    /// <summary>A labels file (one class name per line) replacing the one named by the model's metadata.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>ONNX Runtime's threads per forward pass; 0: its default.</summary>
    public int IntraOpThreads { get; init; }
}

/// <summary>What one call to <see cref="FixationExplainer.Explain(string, ExplainOptions?)"/> explains and how.</summary>
public sealed record ExplainOptions
{
    /// <summary>Explain the top-1 class with the default map options of the walk's rules.</summary>
    public static readonly ExplainOptions Default = new();

    /// <summary>The class to explain: an output index ("283") or a label or one of its synonyms ("tiger cat"); null: the top-1 class.</summary>
    public string? Class { get; init; }

    /// <summary>How the fixations become a heat map and a box; null: the defaults of the walk's rules (<see cref="MapOptions.Weighted"/> or <see cref="MapOptions.Default"/>).</summary>
    public MapOptions? Maps { get; init; }

    /// <summary>
    /// The method, by its name in <see cref="ExplanationMethods"/>: "fixations" (CNN Fixations, the default),
    /// "cam", "gradcam", "gradient", or a reference map. Other methods than CNN Fixations give no points and no
    /// walk; their box thresholds the heat map at <see cref="MapOptions.BoxThreshold"/>.
    /// </summary>
    public string Method { get; init; } = ExplanationMethods.Fixations;

    /// <summary>How many of the best classes <see cref="ImageExplanation.Predictions"/> lists (with <see cref="CropMode.Five"/>: always the five best of the crops' mean).</summary>
    public int TopPredictions { get; init; } = 5;

    /// <summary>
    /// The views of the image the network is shown (what <c>explain --crops</c> does): the whole image, its centre
    /// crop, or the five-crop protocol (<see cref="CropProtocol"/>: CNN Fixations only; the points of the crops
    /// unravelled are pooled; <see cref="ImageExplanation.Walk"/> is the first crop's).
    /// </summary>
    public CropMode Crops { get; init; } = CropMode.Whole;

    /// <summary>Also project the fixations of every layer onto the image (<see cref="ImageExplanation.Layers"/>, what <c>explain --layers</c> draws); not with <see cref="CropMode.Five"/>.</summary>
    public bool Layers { get; init; }

    /// <summary>Images whose header declares more pixels than this are refused before decoding.</summary>
    public long MaxPixels { get; init; } = ImageLoader.DefaultMaxPixels;
}

/// <summary>Milliseconds spent on each part of one explanation.</summary>
/// <param name="DecodeMs">Decoding the image (0 for an image already in memory).</param>
/// <param name="PreprocessMs">Resizing and normalizing it.</param>
/// <param name="ForwardMs">The forward pass.</param>
/// <param name="UnravelMs">The walk back to the input.</param>
/// <param name="MapMs">Points, outlier removal, heat map and box.</param>
/// <param name="TotalMs">All of it.</param>
public sealed record ExplanationTimings(double DecodeMs, double PreprocessMs, double ForwardMs, double UnravelMs, double MapMs, double TotalMs);

/// <summary>
/// The CNN Fixations explanation of one image: what the model predicted, which class was explained, where
/// its fixations fall in the original image, the heat map and box made from them, and any warnings.
/// Coordinates are original-image pixels (x to the right, y down).
/// </summary>
/// <param name="ImagePath">The image file, or null for an image given in memory.</param>
/// <param name="Image">The decoded, upright image.</param>
/// <param name="Predictions">The best classes with softmax probabilities, best first.</param>
/// <param name="Target">The output index explained.</param>
/// <param name="TargetLabel">Its label, or null when the model has no labels.</param>
/// <param name="TargetLogit">Its logit.</param>
/// <param name="Points">One point per input fixation (empty for other methods than CNN Fixations).</param>
/// <param name="KeptPoints">The points that survive outlier removal.</param>
/// <param name="Box">[xmin, ymin, xmax, ymax], or null when no point survives outlier removal.</param>
/// <param name="HeatMap">Row-major <c>Image.Height</c> x <c>Image.Width</c> density of the kept points, maximum 1 (all 0 without points).</param>
/// <param name="Warnings">Problems that did not stop the explanation: a labels file named by the model but missing, NaN or infinite weights or activations on the walk.</param>
/// <param name="Timings">Where the time went.</param>
/// <param name="Walk">The walk itself: the fixations of every tensor it went through (null for other methods than CNN Fixations).</param>
public sealed record ImageExplanation(
    string? ImagePath,
    RgbImage Image,
    IReadOnlyList<Prediction> Predictions,
    int Target,
    string? TargetLabel,
    float TargetLogit,
    IReadOnlyList<(int X, int Y)> Points,
    IReadOnlyList<(int X, int Y)> KeptPoints,
    int[]? Box,
    float[] HeatMap,
    IReadOnlyList<string> Warnings,
    ExplanationTimings Timings,
    UnravelResult? Walk)
{
    /// <summary>The method that made the heat map and box (a name in <see cref="ExplanationMethods"/>).</summary>
    public string Method { get; init; } = ExplanationMethods.Fixations;

    /// <summary>With <see cref="ExplainOptions.Layers"/>: the fixations of each layer of the walk in original-image pixels (<see cref="ViewPipeline.LayerPoints"/>); else null.</summary>
    public IReadOnlyList<Maps.LayerSheet.Layer>? Layers { get; init; }

    /// <summary>Width of the original image.</summary>
    public int Width => Image.Width;

    /// <summary>Height of the original image.</summary>
    public int Height => Image.Height;

    /// <summary>The image with the heat map blended in (<paramref name="alpha"/>: its weight, 0..1; <paramref name="colormap"/>: its colour scale), the points, the box and a colour bar, as PNG bytes.</summary>
    public byte[] OverlayPng(double alpha = 0.5, Maps.ColormapKind colormap = Maps.ColormapKind.Jet)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the heat map's weight must be between 0 and 1");
        return Maps.MapImages.OverlayPng(Image, HeatMap, Box, Points, alpha, colormap);
    }

    /// <summary>Writes <see cref="OverlayPng"/> to <paramref name="path"/> (atomically: a temporary file, then renamed).</summary>
    public void SaveOverlayPng(string path, double alpha = 0.5, Maps.ColormapKind colormap = Maps.ColormapKind.Jet) => Save(path, OverlayPng(alpha, colormap));

    /// <summary>The heat map as an 8-bit grayscale PNG.</summary>
    public byte[] HeatMapPng() => Maps.MapImages.GrayPng(HeatMap, Width, Height);

    /// <summary>Writes <see cref="HeatMapPng"/> to <paramref name="path"/> (atomically).</summary>
    public void SaveHeatMapPng(string path) => Save(path, HeatMapPng());

    private static void Save(string path, byte[] png)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder != null) Directory.CreateDirectory(folder);
            Maps.AtomicFile.WriteAllBytes(path, png);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot write '{path}': {e.Message}", e);
        }
    }
}

/// <summary>
/// The library's entry point: loads an ONNX image classifier once and explains images with CNN Fixations.
/// Preprocessing and input size are resolved as the command line does (an explicit preprocessing or preset,
/// else the model's metadata, else torchvision; the model's fixed input size). It owns every ONNX Runtime
/// session it creates (the forward pass's and the gradient sessions of CAM, Grad-CAM and the gradient method)
/// and releases them all when disposed. <see cref="Explain(string, ExplainOptions?)"/> may be
/// called from several threads at once.
/// </summary>
/// <example>
/// <code>
/// using var explainer = FixationExplainer.LoadBundled();
/// var e = explainer.Explain("cat.png");
/// Console.WriteLine($"{e.TargetLabel}: box {string.Join(",", e.Box ?? [])}");
/// e.SaveOverlayPng("cat.overlay.png");
/// </code>
/// </example>
public sealed class FixationExplainer : IDisposable
{
    private readonly Explainer _explainer;
    private readonly string[] _labelsWarning = Array.Empty<string>();
    private readonly int _declaredClasses;
    private int _disposed;

    private FixationExplainer(OnnxModel original, FixationExplainerOptions options)
    {
        // The input as explain reads it: the layout adapted, the preprocessing chosen, the size known.
        var adapted = InputAdapter.Adapt(original, options.Layout);
        var model = adapted.Model;
        var preprocessing = options.Preprocessing ?? ModelConventions.ChoosePreprocessing(adapted, options.Preset, options.Adjustments).Preprocessing;
        var size = ModelConventions.ResolveInputSize(model, options.InputSize);
        LabelSet? labels = options.LabelsPath != null ? LabelSet.Load(options.LabelsPath) : null;
        _explainer = new Explainer(model, options.Walk, options.OutputName, options.IntraOpThreads);
        if (labels != null) _explainer.Labels = labels;
        else if (LabelSet.MissingFileWarning(model) is { } warning) _labelsWarning = new[] { warning };
        var shape = _explainer.TensorShape(_explainer.LogitsTensor);
        _declaredClasses = shape is { Length: > 0 } && shape.All(d => d > 0) ? shape.Aggregate(1, (a, d) => a * d) : int.MaxValue;
        Preprocessing = preprocessing;
        InputHeight = size.Height;
        InputWidth = size.Width;
        ModelPath = original.Path;
    }

    /// <summary>Loads the ONNX model at <paramref name="modelPath"/> (and any external data files beside it).</summary>
    public static FixationExplainer Load(string modelPath, FixationExplainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        return new FixationExplainer(OnnxModel.Load(modelPath), options ?? FixationExplainerOptions.Default);
    }

    /// <summary>
    /// Loads the bundled MobileNetV2 (ImageNet, 1001 outputs with 0 = background, labelled), which the
    /// package puts in models/ beside the program.
    /// </summary>
    public static FixationExplainer LoadBundled(FixationExplainerOptions? options = null) =>
        Load(ModelConventions.FindBundledModel()
             ?? throw new CnnFixationsException($"the bundled model models/{ModelConventions.BundledModelFile} is not beside the program ({AppContext.BaseDirectory}) or in the current folder"),
             options);

    /// <summary>The model file.</summary>
    public string? ModelPath { get; }

    /// <summary>The preprocessing applied to every image.</summary>
    public Preprocessing Preprocessing { get; }

    /// <summary>The height images are resized to.</summary>
    public int InputHeight { get; }

    /// <summary>The width images are resized to.</summary>
    public int InputWidth { get; }

    /// <summary>The class names (from the model's metadata or <see cref="FixationExplainerOptions.LabelsPath"/>), or null.</summary>
    public LabelSet? Labels => _explainer.Labels;

    /// <summary>The lower-level explainer (forward pass and walk on tensors) this one uses; it stays owned by this object.</summary>
    public Explainer Engine => _explainer;

    /// <summary>Explains the image file at <paramref name="imagePath"/> (PNG, JPEG, BMP, WebP, GIF; EXIF orientation applied).</summary>
    public ImageExplanation Explain(string imagePath, ExplainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        options ??= ExplainOptions.Default;
        var sw = Stopwatch.StartNew();
        var image = ImageLoader.Load(imagePath, options.MaxPixels);
        return Run(imagePath, image, options, sw.Elapsed.TotalMilliseconds, sw);
    }

    /// <summary>Explains the encoded image read from <paramref name="image"/> (to its end; the stream is not closed).</summary>
    public ImageExplanation Explain(Stream image, ExplainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= ExplainOptions.Default;
        var sw = Stopwatch.StartNew();
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            image.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        var decoded = ImageLoader.Load(bytes, "(stream)", options.MaxPixels);
        return Run(null, decoded, options, sw.Elapsed.TotalMilliseconds, sw);
    }

    /// <summary>Explains an image already decoded (upright, RGB).</summary>
    public ImageExplanation Explain(RgbImage image, ExplainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Run(null, image, options ?? ExplainOptions.Default, 0, Stopwatch.StartNew());
    }

    /// <summary>Explains a SkiaSharp bitmap (any colour type; alpha is ignored, colours are taken as stored).</summary>
    public ImageExplanation Explain(SKBitmap bitmap, ExplainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        var sw = Stopwatch.StartNew();
        var image = ToRgb(bitmap);
        return Run(null, image, options ?? ExplainOptions.Default, sw.Elapsed.TotalMilliseconds, sw);
    }

    private ImageExplanation Run(string? path, RgbImage image, ExplainOptions options, double decodeMs, Stopwatch total)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (options.TopPredictions < 1) throw new ArgumentOutOfRangeException(nameof(options), options.TopPredictions, "TopPredictions must be at least 1");
        if (options.Method is null) throw new ArgumentNullException(nameof(options), "Method is null");
        // A class that does not exist is reported before the image is run.
        int? requested = options.Class != null ? LabelSet.Resolve(options.Class, _explainer.Labels, _declaredClasses) : null;
        string? target = requested?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // So is a method that is unknown or does not apply to the model, or options that do not go together.
        if (options.Method != ExplanationMethods.Fixations)
        {
            var method = ExplanationMethods.Create(options.Method, MapsFor(options));
            if (method.NotApplicable(_explainer) is { } reason) throw new CnnFixationsException($"{options.Method} does not apply to this model: {reason}");
            if (options.Crops == CropMode.Five) throw new CnnFixationsException($"{options.Method} explains one view: it cannot be combined with five crops");
        }
        if (options.Layers && options.Crops == CropMode.Five) throw new CnnFixationsException("the layers' fixations are drawn for one view: they cannot be combined with five crops");

        var sw = Stopwatch.StartNew();
        if (options.Crops == CropMode.Five)
        {
            // The five-crop protocol explain --crops five runs (its preprocessing happens inside, with the forward passes).
            var five = ViewPipeline.ExplainFiveCrop(_explainer, path, image, Preprocessing, InputHeight, InputWidth, target, MapsFor(options));
            double fiveMs = sw.Elapsed.TotalMilliseconds;
            var first = five.First;
            double unravelMs = five.Protocol.Unravelled.Sum(c => c.Explanation.UnravelMs);
            double forwardMs = first.ForwardMs * 10;
            return new ImageExplanation(
                path, image, five.Protocol.Predictions,
                five.Protocol.Label, first.TargetLabel, first.TargetLogit,
                five.Map.Points, five.Map.KeptPoints, five.Map.Box, five.Map.Heat,
                _labelsWarning.Concat(five.Protocol.Unravelled.SelectMany(c => c.Explanation.Warnings)).Distinct().ToArray(),
                new ExplanationTimings(decodeMs, 0, forwardMs, unravelMs, Math.Max(0, fiveMs - forwardMs - unravelMs), total.Elapsed.TotalMilliseconds),
                first.Fixations);
        }

        var input = ViewPipeline.Input(path, image, Preprocessing, InputHeight, InputWidth, options.Crops);
        double preprocessMs = sw.Elapsed.TotalMilliseconds;

        // The pipeline explain uses (forward pass, target, walk, the method's map).
        sw.Restart();
        var view = ViewPipeline.Explain(_explainer, input, new ViewRequest
        {
            Class = target,
            Method = options.Method,
            Maps = MapsFor(options),
            TopPredictions = options.TopPredictions,
        });
        double pipelineMs = sw.Elapsed.TotalMilliseconds;
        var explained = view.Targets[0];
        var walk = explained.Walk;
        var layers = options.Layers ? ViewPipeline.LayerPoints(_explainer, input, walk) : null;
        var warnings = _labelsWarning.Concat(walk.Warnings).ToArray();
        var timings = new ExplanationTimings(decodeMs, preprocessMs, view.ForwardMs, walk.UnravelMs, Math.Max(0, pipelineMs - view.ForwardMs - walk.UnravelMs), total.Elapsed.TotalMilliseconds);
        if (explained.Fixations is { } map)
            return new ImageExplanation(
                path, image, view.Predictions,
                walk.Target, walk.TargetLabel, walk.TargetLogit,
                map.Points, map.KeptPoints, map.Box, map.Heat, warnings, timings, walk.Fixations)
            {
                Layers = layers,
            };
        // Another method than CNN Fixations: its heat map and box; no points, no walk.
        var other = explained.Baselines[0];
        return new ImageExplanation(
            path, image, view.Predictions,
            walk.Target, walk.TargetLabel, walk.TargetLogit,
            Array.Empty<(int, int)>(), Array.Empty<(int, int)>(), other.Box, other.Map!.Heat, warnings, timings, null)
        {
            Method = other.Name,
            Layers = layers,
        };
    }

    private MapOptions MapsFor(ExplainOptions options) =>
        options.Maps ?? (_explainer.Options.Rules == RuleFamily.Weighted ? MapOptions.Weighted : MapOptions.Default);

    private static RgbImage ToRgb(SKBitmap bitmap)
    {
        int width = bitmap.Width, height = bitmap.Height;
        if (width < 1 || height < 1) throw new CnnFixationsException($"the bitmap has no pixels ({width}x{height})");
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[(long)width * height * 4];
        bool ok;
        using (var pixmap = bitmap.PeekPixels())
        {
            unsafe
            {
                fixed (byte* p = rgba)
                    ok = pixmap != null && pixmap.ReadPixels(info, (IntPtr)p, info.RowBytes);
            }
        }
        if (!ok) throw new CnnFixationsException($"the bitmap's pixels ({bitmap.ColorType}) cannot be converted to RGB");
        long pixels = (long)width * height;
        var rgb = new byte[pixels * 3];
        for (long i = 0, j = 0; i < pixels; i++, j += 3)
        {
            rgb[j] = rgba[4 * i];
            rgb[j + 1] = rgba[4 * i + 1];
            rgb[j + 2] = rgba[4 * i + 2];
        }
        return new RgbImage(width, height, rgb);
    }

    /// <summary>Releases every ONNX Runtime session of the model; the explainer cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _explainer.Dispose();
    }
}
