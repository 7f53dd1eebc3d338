using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Cli;

/// <summary><c>cnn-fixations explain</c>: predict, unravel, and write fixations, heat map, box and overlay.</summary>
internal static class ExplainCommand
{
    public const string BundledModelFile = "mobilenet_v2_1.0_224_quant.qdq.onnx";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var images = new Argument<string[]>("images") { Description = "Image files to explain (PNG, JPEG, BMP, WebP, GIF).", Arity = ArgumentArity.ZeroOrMore };
        var model = new Option<string?>("--model", "-m") { Description = $"ONNX image classifier. Default: the bundled MobileNetV2 (models/{BundledModelFile})." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for <stem>.overlay.png, <stem>.heatmap.png, <stem>.heatmap.npy and <stem>.json." };
        var json = new Option<string?>("--json") { Description = "Write the JSON document to FILE, or to standard output with '-'." };
        var cls = new Option<string?>("--class", "-c") { Description = "Explain this class (an output index or a label name) instead of the top-1 prediction." };
        var topK = new Option<int>("--top-k") { Description = "Explain each of the N best classes.", DefaultValueFactory = _ => 1 };
        var inputTensor = new Option<string?>("--input-tensor") { Description = "Explain a float32 [1,C,H,W] .npy tensor as the network input (no image decoding or preprocessing)." };
        var preset = new Option<string?>("--preset") { Description = "Preprocessing: torchvision (RGB, /255, ImageNet mean/std), caffe (BGR, minus 103.939/116.779/123.68), tf (x/127.5-1). Default: the model's metadata, else torchvision." };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (line i names output i). Default: the file the model's metadata names." };
        var output = new Option<string?>("--output") { Description = "The model output holding the class scores, when the model has several." };
        var sigma = new Option<double>("--sigma") { Description = "Gaussian blur of the heat map, in original-image pixels.", DefaultValueFactory = _ => 20.0 };
        var alpha = new Option<double>("--alpha") { Description = "Opacity of the heat map over the image in the overlay (0..1).", DefaultValueFactory = _ => 0.5 };
        var box = new Option<string>("--box") { Description = "Box: 'points' (tight box of the kept fixation points, the paper's) or 'threshold' (largest connected region of the heat map above --box-threshold).", DefaultValueFactory = _ => "points" };
        box.AcceptOnlyFromAmong("points", "threshold");
        var boxThreshold = new Option<double>("--box-threshold") { Description = "Fraction of the heat map's maximum for --box threshold.", DefaultValueFactory = _ => 0.5 };
        var outlierRadius = new Option<double>("--outlier-radius") { Description = "Outlier removal radius as a fraction of the image diagonal.", DefaultValueFactory = _ => 0.1 };
        var outlierFraction = new Option<double>("--outlier-fraction") { Description = "A point is kept when more than this fraction of all points lie within the radius.", DefaultValueFactory = _ => 0.05 };
        var fcAllPositive = new Option<bool>("--fc-all-positive") { Description = "At the first fully connected layer after the conv layers keep every positive contribution, not only the largest." };
        var convPosition = new Option<string>("--conv-position") { Description = "Where a Conv fixation lands in its window: 'centre' of the receptive field, or 'refine' (the largest single contribution).", DefaultValueFactory = _ => "centre" };
        convPosition.AcceptOnlyFromAmong("centre", "center", "refine");
        var bn = new Option<string>("--bn") { Description = "Rank a Conv followed by BatchNormalization with 'folded' weights (gamma/sigma) or 'raw' conv weights (the authors').", DefaultValueFactory = _ => "folded" };
        bn.AcceptOnlyFromAmong("folded", "raw");
        var globalPositive = new Option<bool>("--global-pool-all-positive") { Description = "At a global pooling keep every position with a positive activation, not only the maximum." };
        var maxPixels = new Option<long>("--max-pixels") { Description = "Refuse images larger than this many pixels (before decoding).", DefaultValueFactory = _ => ImageLoader.DefaultMaxPixels };
        var size = new Option<string?>("--size") { Description = "Input size HxW (or N for square) for a model whose input size is not fixed." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };

        var command = new Command("explain", "Classify images and explain each decision by CNN Fixations.")
        {
            images, model, outDir, json, cls, topK, inputTensor, preset, labels, output, sigma, alpha, box, boxThreshold,
            outlierRadius, outlierFraction, fcAllPositive, convPosition, bn, globalPositive, maxPixels, size, quiet,
        };

        command.SetAction(parse =>
        {
            var settings = new ExplainSettings
            {
                Images = parse.GetValue(images) ?? Array.Empty<string>(),
                Model = parse.GetValue(model),
                OutDir = parse.GetValue(outDir),
                Json = parse.GetValue(json),
                Class = parse.GetValue(cls),
                TopK = parse.GetValue(topK),
                TopKGiven = parse.GetResult(topK) is { Implicit: false },
                InputTensor = parse.GetValue(inputTensor),
                Preset = parse.GetValue(preset),
                Labels = parse.GetValue(labels),
                Output = parse.GetValue(output),
                Alpha = parse.GetValue(alpha),
                MaxPixels = parse.GetValue(maxPixels),
                Size = parse.GetValue(size),
                Quiet = parse.GetValue(quiet),
                Unravel = new UnravelOptions
                {
                    FcSpatialAllPositive = parse.GetValue(fcAllPositive),
                    ConvPosition = parse.GetValue(convPosition) == "refine" ? ConvPosition.Refine : ConvPosition.Centre,
                    FoldBatchNorm = parse.GetValue(bn) != "raw",
                    GlobalPoolAllPositive = parse.GetValue(globalPositive),
                },
                Maps = new MapOptions
                {
                    Sigma = parse.GetValue(sigma),
                    Box = parse.GetValue(box) == "threshold" ? BoxMode.Threshold : BoxMode.Points,
                    BoxThreshold = parse.GetValue(boxThreshold),
                    OutlierRadius = parse.GetValue(outlierRadius),
                    OutlierFraction = parse.GetValue(outlierFraction),
                },
            };
            return new ExplainRun(settings, stdout, stderr).Execute();
        });
        return command;
    }
}

internal sealed record ExplainSettings
{
    public string[] Images { get; init; } = Array.Empty<string>();
    public string? Model { get; init; }
    public string? OutDir { get; init; }
    public string? Json { get; init; }
    public string? Class { get; init; }
    public int TopK { get; init; } = 1;
    public bool TopKGiven { get; init; }
    public string? InputTensor { get; init; }
    public string? Preset { get; init; }
    public string? Labels { get; init; }
    public string? Output { get; init; }
    public double Alpha { get; init; } = 0.5;
    public long MaxPixels { get; init; } = ImageLoader.DefaultMaxPixels;
    public string? Size { get; init; }
    public bool Quiet { get; init; }
    public UnravelOptions Unravel { get; init; } = UnravelOptions.Default;
    public MapOptions Maps { get; init; } = MapOptions.Default;
}

/// <summary>One invocation of <c>explain</c>: validates the settings, loads the model once, explains each input.</summary>
internal sealed class ExplainRun
{
    private readonly ExplainSettings _s;
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;
    private readonly TextWriter _info;

    public ExplainRun(ExplainSettings settings, TextWriter stdout, TextWriter stderr)
    {
        _s = settings;
        _stdout = stdout;
        _stderr = stderr;
        _info = settings.Json == "-" ? stderr : stdout;
    }

    public int Execute()
    {
        Validate();
        string modelPath = ResolveModelPath(_s.Model);
        var model = OnnxModel.Load(modelPath);
        using var explainer = new Explainer(model, _s.Unravel, _s.Output);
        if (_s.Labels != null) explainer.Labels = LabelSet.Load(_s.Labels);
        var preprocessing = ChoosePreprocessing(model);
        var (inputH, inputW) = InputSize(model);

        var inputs = new List<Func<ExplanationInput>>();
        if (_s.InputTensor != null) inputs.Add(() => ExplanationInput.FromNpy(_s.InputTensor));
        foreach (var image in _s.Images)
            inputs.Add(() => ExplanationInput.FromImage(image, preprocessing, inputH, inputW, _s.MaxPixels));

        if (_s.OutDir != null) PrepareOutDir(_s.OutDir);
        var documents = new List<byte[]>();
        int failures = 0;
        foreach (var load in inputs)
        {
            try
            {
                var sw = Stopwatch.StartNew();
                var input = load();
                ExplainOne(explainer, model, modelPath, input, sw, documents);
            }
            catch (CnnFixationsException e) when (inputs.Count > 1)
            {
                _stderr.WriteLine($"error: {e.Message}");
                failures++;
            }
        }
        WriteJson(documents);
        return failures > 0 ? CliApp.Failure : CliApp.Ok;
    }

    private void ExplainOne(Explainer explainer, OnnxModel model, string modelPath, ExplanationInput input, Stopwatch sw, List<byte[]> documents)
    {
        using var forward = explainer.Forward(input.Tensor);
        double forwardMs = sw.Elapsed.TotalMilliseconds;
        int classes = explainer.ClassCount(forward);
        var logits = forward[explainer.LogitsTensor].Data;
        int[] targets = _s.Class != null
            ? new[] { LabelSet.Resolve(_s.Class, explainer.Labels, classes) }
            : Explainer.TopClasses(logits, Math.Min(_s.TopK, classes));

        string display = input.ImagePath ?? _s.InputTensor!;
        if (!_s.Quiet) PrintPredictions(display, explainer.Predict(logits, 5));
        string stem = Path.GetFileNameWithoutExtension(display);
        foreach (int target in targets)
        {
            var explanation = explainer.Unravel(forward, target, forwardMs);
            var map = FixationMap.Build(explanation.Fixations.Input, input, _s.Maps);
            double totalMs = sw.Elapsed.TotalMilliseconds;
            var doc = Serialize(w => ExplanationJson.Write(w, input.ImagePath, modelPath, model.Sha256, input, explanation, map, totalMs));
            documents.Add(doc);
            if (!_s.Quiet)
                _info.WriteLine($"  explained class {target}{(explanation.TargetLabel is { } l ? $" ({l})" : "")}: {explanation.Fixations.Input.Count} input fixations, " +
                                $"{map.KeptPoints.Count}/{map.Points.Count} points kept, box {(map.Box == null ? "none" : $"[{string.Join(", ", map.Box)}]")}" +
                                (map.Points.Count > 0 && map.KeptPoints.Count == 0 ? " (every point counts as an outlier: the fixations are scattered; see --outlier-fraction)" : ""));
            if (_s.OutDir != null)
            {
                string name = targets.Length > 1 || _s.Class != null ? $"{stem}.{target}" : stem;
                WriteFiles(_s.OutDir, name, input, map, doc);
            }
        }
    }

    private void WriteFiles(string dir, string name, ExplanationInput input, FixationMap map, byte[] doc)
    {
        var background = input.Image ?? TensorPreview.ToImage(input.Tensor);
        string overlay = Path.Combine(dir, name + ".overlay.png");
        string heatPng = Path.Combine(dir, name + ".heatmap.png");
        string heatNpy = Path.Combine(dir, name + ".heatmap.npy");
        string jsonPath = Path.Combine(dir, name + ".json");
        AtomicFile.WriteAllBytes(overlay, MapImages.OverlayPng(background, map.Heat, map.Box, map.Points, _s.Alpha));
        AtomicFile.WriteAllBytes(heatPng, MapImages.GrayPng(map.Heat, map.Width, map.Height));
        AtomicFile.Write(heatNpy, stream => NpyFile.WriteFloat32(stream, new[] { map.Height, map.Width }, map.Heat));
        AtomicFile.WriteAllBytes(jsonPath, doc);
        if (!_s.Quiet)
            foreach (var p in new[] { overlay, heatPng, heatNpy, jsonPath }) _info.WriteLine($"  wrote {p}");
    }

    private void WriteJson(List<byte[]> documents)
    {
        if (_s.Json == null) return;
        byte[] bytes;
        if (documents.Count == 1) bytes = documents[0];
        else
        {
            using var ms = new MemoryStream();
            ms.WriteByte((byte)'[');
            for (int i = 0; i < documents.Count; i++)
            {
                if (i > 0) ms.WriteByte((byte)',');
                ms.Write(documents[i], 0, documents[i].Length - 1); // without the trailing newline
            }
            ms.Write("]\n"u8);
            bytes = ms.ToArray();
        }
        if (_s.Json == "-")
        {
            _stdout.Write(System.Text.Encoding.UTF8.GetString(bytes));
            _stdout.Flush();
        }
        else AtomicFile.WriteAllBytes(_s.Json, bytes);
    }

    private static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(w);
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    private void PrintPredictions(string display, IReadOnlyList<Prediction> predictions)
    {
        _info.WriteLine(display);
        foreach (var p in predictions)
            _info.WriteLine($"  {p.Score,8:P2}  {p.Index,5}  {p.Label ?? "-"}");
    }

    private void Validate()
    {
        if (_s.Images.FirstOrDefault(i => i.StartsWith('-') && i.Length > 1) is { } unknown)
            throw new UsageException($"unknown option '{unknown}' (see 'cnn-fixations explain --help')");
        if (_s.Images.Length == 0 && _s.InputTensor == null)
            throw new UsageException("nothing to explain: give one or more image files, or --input-tensor FILE.npy");
        if (_s.Images.Length > 0 && _s.InputTensor != null)
            throw new UsageException("give either image files or --input-tensor, not both");
        if (_s.Class != null && _s.TopKGiven)
            throw new UsageException("--class and --top-k are exclusive: explain one named class, or the N best");
        if (_s.TopK < 1) throw new UsageException($"--top-k must be at least 1 (got {_s.TopK})");
        if (_s.InputTensor != null && _s.Preset != null) throw new UsageException("--preset does not apply to --input-tensor (the tensor is used as it is)");
        if (_s.Alpha is < 0 or > 1 || double.IsNaN(_s.Alpha)) throw new UsageException($"--alpha must be between 0 and 1 (got {_s.Alpha.ToString(CultureInfo.InvariantCulture)})");
        if (!(_s.Maps.Sigma > 0) || _s.Maps.Sigma > 10000) throw new UsageException("--sigma must be a positive number of pixels (at most 10000)");
        if (!(_s.Maps.BoxThreshold > 0) || _s.Maps.BoxThreshold > 1) throw new UsageException("--box-threshold must be in (0, 1]");
        if (!(_s.Maps.OutlierRadius >= 0)) throw new UsageException("--outlier-radius must be 0 or more");
        if (!(_s.Maps.OutlierFraction >= 0) || _s.Maps.OutlierFraction >= 1) throw new UsageException("--outlier-fraction must be in [0, 1)");
        if (_s.MaxPixels < 1) throw new UsageException("--max-pixels must be positive");
    }

    private static string ResolveModelPath(string? model)
    {
        if (model != null) return model;
        foreach (var dir in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            string candidate = Path.Combine(dir, "models", ExplainCommand.BundledModelFile);
            if (File.Exists(candidate)) return candidate;
        }
        throw new CnnFixationsException($"no --model given and the bundled model (models/{ExplainCommand.BundledModelFile}) was not found next to the program");
    }

    private Preprocessing ChoosePreprocessing(OnnxModel model)
    {
        if (_s.Preset != null) return Preprocessing.FromName(_s.Preset);
        return Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
    }

    private (int H, int W) InputSize(OnnxModel model)
    {
        var shape = model.InputShape;
        int declaredH = shape.Length == 4 ? shape[2] : -1, declaredW = shape.Length == 4 ? shape[3] : -1;
        if (shape.Length == 4 && shape[1] > 0 && shape[1] != 3 && _s.InputTensor == null)
            throw new CnnFixationsException($"the model's input has {shape[1]} channels; images are explained for 3-channel (RGB) models only (use --input-tensor for others)");
        if (_s.Size != null)
        {
            var (h, w) = ParseSize(_s.Size);
            if ((declaredH > 0 && declaredH != h) || (declaredW > 0 && declaredW != w))
                throw new UsageException($"--size {_s.Size} conflicts with the model's fixed input size {declaredH}x{declaredW}");
            return (h, w);
        }
        if (declaredH > 0 && declaredW > 0) return (declaredH, declaredW);
        if (_s.InputTensor != null) return (-1, -1);
        throw new UsageException($"the model's input size is not fixed ({Shapes.Format(shape)}); give it with --size HxW");
    }

    private static (int H, int W) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= 16384))
        {
            int h = int.Parse(parts[0], CultureInfo.InvariantCulture);
            int w = int.Parse(parts[^1], CultureInfo.InvariantCulture);
            return (h, w);
        }
        throw new UsageException($"--size '{text}' is not HxW or N (positive sizes up to 16384)");
    }

    private static void PrepareOutDir(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".cnn-fixations-write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, Array.Empty<byte>());
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"output folder '{dir}' is not writable: {e.Message}", e);
        }
    }
}
