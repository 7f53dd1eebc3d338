using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Cli;

/// <summary>What happened to one input: its JSON documents (and the files they were written to), its top-1 class and box, or its error.</summary>
internal sealed class ImageOutcome
{
    public required InputFile File { get; init; }
    /// <summary>The documents that results.jsonl and --json list for this input, serialized once; emptied once they are written there (see <see cref="DocumentCount"/>).</summary>
    public List<byte[]> Documents { get; } = new();
    /// <summary>How many documents the input had when they were handed to the JSON Lines outputs.</summary>
    public int DocumentCount { get; set; }
    public List<string> DocumentFiles { get; } = new();
    public IReadOnlyList<Prediction> Predictions { get; set; } = Array.Empty<Prediction>();
    public Prediction? Top1 => Predictions.Count > 0 ? Predictions[0] : null;
    public List<string> OverlayFiles { get; } = new();
    /// <summary>The picture the report shows when not the first overlay (with --method all: the methods sheet).</summary>
    public string? ReportPicture { get; set; }
    public int[]? Box { get; set; }
    public string? Error { get; set; }
    public bool Skipped { get; set; }
}

/// <summary>
/// One invocation of <c>explain</c>: validates the settings, loads the model and creates the ONNX
/// Runtime session once, explains the inputs (several at once, up to --jobs, each holding one set of
/// activations), writes every output atomically, and assembles results.jsonl / results.csv in input order.
/// </summary>
internal sealed class ExplainRun
{
    private readonly ExplainSettings _s;
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;
    private readonly TextWriter _info;
    private OnnxModel _model = null!;
    private Explainer _explainer = null!;
    private string _modelPath = "";
    private Preprocessing _preprocessing = Preprocessing.Torchvision;
    private int _inputH, _inputW;
    private StartPoint? _start;

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
        _start = _s.Start != null ? StartPoint.Parse(_s.Start) : null;
        var files = _s.InputTensor != null
            ? new List<InputFile> { new(_s.InputTensor, Path.GetFileNameWithoutExtension(_s.InputTensor)) }
            : InputFiles.Expand(_s.Images, _s.Recursive);
        int inputCount = files.Count;
        var inputIndex = (_s.Shard ?? Shard.Whole).Select(inputCount);
        files = inputIndex.Select(k => files[k]).ToList();
        bool batch = _s.Shard != null || files.Count > 1 || _s.Images.Any(Directory.Exists) || _s.Images.Any(i => i.IndexOfAny(new[] { '*', '?' }) >= 0);
        if (_s.SkipExisting && _s.OutDir == null) throw new UsageException("--skip-existing needs --out (it skips images whose outputs exist there)");
        if (_s.Layers && _s.OutDir == null) throw new UsageException("--layers needs --out (it writes one picture per layer)");
        if (_s.Report && _s.OutDir == null) throw new UsageException("--report needs --out (the page links the pictures written there)");
        if (_s.Shard != null && _s.OutDir == null) throw new UsageException("--shard needs --out (the shards' folders are joined by 'cnn-fixations merge')");
        if (_s.Shard != null && _s.InputTensor != null) throw new UsageException("--shard splits a list of images; it does not apply to --input-tensor");

        // One image that is not there fails before the model is read (the error costs start-up only), unless a
        // --class must be checked first (that needs the model's labels).
        if (!batch && _s.InputTensor == null && _s.Class == null && files.Count == 1 && !File.Exists(files[0].Path))
            throw new CnnFixationsException($"cannot read image '{files[0].Path}': the file does not exist");

        _modelPath = ModelDefaults.ResolveModelPath(_s.Model);
        var adapted = InputAdapter.Adapt(OnnxModel.Load(_modelPath), _s.Layout is { } layout ? InputAdapter.ParseLayout(layout) : null);
        _model = adapted.Model;
        int jobs = Math.Clamp(_s.Jobs, 1, Math.Max(1, files.Count));
        int intraOp = jobs > 1 ? Math.Max(1, Environment.ProcessorCount / jobs) : 0;
        if (_start != null && !_model.IsKnownTensor(_start.Tensor))
            throw new CnnFixationsException($"--start: tensor '{_start.Tensor}' does not exist in the model (see 'cnn-fixations inspect {_modelPath}')");
        using var explainer = new Explainer(_model, _s.Unravel, _s.Output, intraOp, _start?.Tensor);
        _explainer = explainer;
        if (_s.Labels != null) explainer.Labels = LabelSet.Load(_s.Labels);
        else if (LabelSet.MissingFileWarning(_model) is { } labelsWarning) _stderr.WriteLine($"warning: {labelsWarning} (give --labels FILE)");
        // A class that does not exist is reported before any image is read or run.
        if (_s.Class != null) LabelSet.Resolve(_s.Class, explainer.Labels, DeclaredClassCount(explainer));
        (_inputH, _inputW) = InputSize(_model);
        if (_s.InputTensor == null) _preprocessing = ChoosePreprocessing(adapted);
        if (!_s.Quiet)
        {
            _info.WriteLine($"input: {_model.InputName} {Shapes.Format(adapted.Original.InputShape)} {adapted.InputElementType}, layout {adapted.Layout.ToString().ToUpperInvariant()} ({adapted.LayoutReason})");
            if (_s.InputTensor == null) _info.WriteLine($"preprocessing: {_preprocessingChoice}");
            _info.WriteLine($"scores: '{explainer.LogitsTensor}' ({explainer.ScoreReason})");
        }
        if (_s.OutDir != null) PrepareOutDir(_s.OutDir);
        if (_s.Json is { } jsonPath && jsonPath != "-")
        {
            string folder = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
            if (!Directory.Exists(folder)) throw new CnnFixationsException($"cannot write --json '{jsonPath}': folder '{folder}' does not exist");
            PrepareOutDir(folder);
        }

        // results.jsonl and --json are filled as the images finish, in input order, from the documents in memory.
        using var runLines = _s.OutDir != null && batch ? JsonLinesSink.ToFile(Path.Combine(_s.OutDir, "results.jsonl")) : null;
        using var jsonLines = _s.Json == null ? null : _s.Json == "-" ? JsonLinesSink.InMemory() : JsonLinesSink.ToFile(_s.Json);
        void Deliver(int index, ImageOutcome outcome)
        {
            runLines?.Add(index, outcome.Error != null ? new[] { ErrorRow(outcome) } : outcome.Documents.ToArray());
            jsonLines?.Add(index, outcome.Error != null ? Array.Empty<byte[]>() : outcome.Documents.ToArray());
            outcome.DocumentCount = outcome.Documents.Count;
            outcome.Documents.Clear();
        }

        using var cancel = new Interruption(_stderr);
        var outcomes = new ImageOutcome?[files.Count];
        var stopwatch = Stopwatch.StartNew();
        try
        {
            using var progress = BatchProgress.Create(batch && !_s.Quiet, files.Count, _info);
            if (!batch)
            {
                outcomes[0] = Process(files[0], verbose: !_s.Quiet);
                Deliver(0, outcomes[0]!);
            }
            else
            {
                Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs }, (i, state) =>
                {
                    if (cancel.Requested) { state.Stop(); return; }
                    outcomes[i] = Process(files[i], verbose: false);
                    Deliver(i, outcomes[i]!);
                    progress.Report(outcomes[i]!);
                });
            }
        }
        finally
        {
            cancel.Detach();
        }

        var done = outcomes.Where(o => o != null).Select(o => o!).ToList();
        if (_s.OutDir != null && batch)
        {
            WriteRunFiles(_s.OutDir, done, runLines!);
            WriteManifest(_s.OutDir, inputCount, outcomes.Select((o, i) => (o, i)).Where(p => p.o != null)
                .Select(p => (inputIndex[p.i], p.o!.Error != null ? 1 : p.o.DocumentCount)).ToList());
        }
        if (_s.OutDir != null && _s.Report) WriteReport(_s.OutDir, done);
        // The ONNX Runtime walk was asked for (the default) but the managed rules ran: same shares, slower; say why once.
        if (!_s.Quiet && _s.Unravel.Rules == RuleFamily.Weighted && _s.Unravel.WalkEngine == WalkEngine.Onnx && explainer.ManagedWalkReason is { } managedWhy)
            _stderr.WriteLine($"note: the weighted walk ran in the managed kernels, not ONNX Runtime: {managedWhy}");
        int failed = done.Count(o => o.Error != null);
        // A run that fails (an image failed, or it was interrupted) writes no --json file: the file means success.
        if (failed == 0 && !cancel.Requested && jsonLines != null) WriteJson(jsonLines);
        if (!batch)
        {
            if (done.Count == 1 && done[0].Error is { } error) throw new CnnFixationsException(error);
        }
        else if (!_s.Quiet || failed > 0 || cancel.Requested)
        {
            _info.WriteLine($"{done.Count - failed} of {files.Count} images explained, {failed} failed, {done.Count(o => o.Skipped)} skipped as done, " +
                            $"{stopwatch.Elapsed.TotalSeconds:F1} s{(cancel.Requested ? $"; interrupted, {files.Count - done.Count} not started" : "")}");
            foreach (var o in done.Where(o => o.Error != null)) _stderr.WriteLine($"error: {o.File.Path}: {o.Error}");
        }
        if (cancel.Requested) return 130;
        return failed > 0 ? CliApp.Failure : CliApp.Ok;
    }

    private ImageOutcome Process(InputFile file, bool verbose)
    {
        var outcome = new ImageOutcome { File = file };
        string? stemPath = _s.OutDir == null ? null : Path.Combine(_s.OutDir, file.OutputStem);
        try
        {
            if (_s.SkipExisting && stemPath != null && ExistingDocuments(stemPath) is { Count: > 0 } existing)
            {
                outcome.Skipped = true;
                outcome.DocumentFiles.AddRange(existing);
                outcome.Documents.AddRange(existing.Select(File.ReadAllBytes));
                outcome.OverlayFiles.AddRange(existing.Select(j => j[..^".json".Length] + ".overlay.png").Where(File.Exists));
                ReadSummary(existing[0], outcome.Documents[0], outcome);
                return outcome;
            }
            var sw = Stopwatch.StartNew();
            if (_s.Crops == CropMode.Five)
            {
                ExplainFiveCrop(file, stemPath, outcome, sw, verbose);
                return outcome;
            }
            var input = LoadInput(file.Path);
            var view = ViewPipeline.Explain(_explainer, input, new ViewRequest
            {
                Class = _s.Class,
                TopK = _s.TopK,
                Start = _start,
                Method = _s.Method,
                Maps = _s.Maps,
            }, predictions =>
            {
                outcome.Predictions = predictions;
                if (verbose) PrintPredictions(input.ImagePath ?? file.Path, predictions);
            });

            bool suffix = view.Targets.Count > 1 || _s.Class != null;
            foreach (var target in view.Targets)
            {
                var e = target.Walk;
                foreach (var w in e.Warnings) lock (_stderr) _stderr.WriteLine($"warning: {file.Path}: {w}");
                var map = target.Fixations;
                if (_s.Method != ExplanationMethods.Fixations && e.Start == null)
                    WriteBaselines(input, target, stemPath == null ? null : suffix ? $"{stemPath}.{e.Target}" : stemPath, outcome, sw, verbose);
                if (map == null) continue;
                var doc = Serialize(w => ExplanationJson.Write(w, input.ImagePath, _modelPath, _model.Sha256, input, e, map, sw.Elapsed.TotalMilliseconds));
                outcome.Box ??= map.Box;
                if (verbose) PrintExplained(e, map);
                if (stemPath != null)
                {
                    string name = suffix ? $"{stemPath}.{e.Target}" : stemPath;
                    WriteFiles(name, input.Image ?? TensorPreview.ToImage(input.Tensor), map, doc, verbose);
                    outcome.DocumentFiles.Add(name + ".json");
                    outcome.OverlayFiles.Add(name + ".overlay.png");
                    if (_s.Layers) WriteLayers(name, input, e, verbose);
                }
                outcome.Documents.Add(doc);
            }
        }
        catch (CnnFixationsException e)
        {
            outcome.Error = e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            outcome.Error = $"cannot write the outputs of '{file.Path}': {e.Message}";
        }
        return outcome;
    }

    /// <summary>The baseline methods' outputs for one target: <c>&lt;name&gt;.&lt;method&gt;.*</c> files, and with --method all a side-by-side sheet.</summary>
    private void WriteBaselines(ExplanationInput input, TargetExplanation target, string? name, ImageOutcome outcome, Stopwatch sw, bool verbose)
    {
        var prediction = target.Walk;
        var fixations = target.Fixations;
        var background = input.Image ?? TensorPreview.ToImage(input.Tensor);
        var overlays = new List<(string, byte[])>();
        if (fixations != null)
            overlays.Add((ExplanationMethods.Fixations, MapImages.OverlayPng(background, fixations.Heat, fixations.Box, OverlayPoints(fixations), _s.Alpha, _s.Colormap)));
        foreach (var result in target.Baselines)
        {
            string m = result.Name;
            if (result.Map is not { } map)
            {
                if (verbose) _info.WriteLine($"  {m}: not applicable ({result.NotApplicable})");
                continue;
            }
            var box = result.Box;
            outcome.Box ??= box;
            var overlay = MapImages.OverlayPng(background, map.Heat, box, Array.Empty<(int, int)>(), _s.Alpha, _s.Colormap);
            overlays.Add((m, overlay));
            var doc = Serialize(w => ExplanationJson.WriteBaseline(w, input.ImagePath, _modelPath, _model.Sha256, input, prediction, m, map, box, _s.Maps.BoxThreshold, sw.Elapsed.TotalMilliseconds));
            if (verbose) _info.WriteLine($"  {m}: box {(box == null ? "none" : $"[{string.Join(", ", box)}]")}");
            if (name != null)
            {
                string file = $"{name}.{m}";
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
                AtomicFile.WriteAllBytes(file + ".overlay.png", overlay);
                AtomicFile.WriteAllBytes(file + ".heatmap.png", MapImages.GrayPng(map.Heat, map.Width, map.Height));
                AtomicFile.Write(file + ".heatmap.npy", stream => NpyFile.WriteFloat32(stream, new[] { map.Height, map.Width }, map.Heat));
                AtomicFile.WriteAllBytes(file + ".json", doc);
                if (_s.Method != "all") { outcome.DocumentFiles.Add(file + ".json"); outcome.OverlayFiles.Add(file + ".overlay.png"); }
                if (verbose) _info.WriteLine($"  wrote {file}.overlay.png, .heatmap.png, .heatmap.npy, .json");
            }
            // With --method all, results.jsonl and --json list the fixations' documents; the baselines' are files only.
            if (_s.Method != "all") outcome.Documents.Add(doc);
        }
        if (_s.Method == "all" && name != null && overlays.Count > 0)
        {
            AtomicFile.WriteAllBytes(name + ".methods.png", LayerSheet.MethodsPng(background, overlays));
            outcome.ReportPicture ??= name + ".methods.png";
            if (verbose) _info.WriteLine($"  wrote {name}.methods.png");
        }
    }

    private void ExplainFiveCrop(InputFile file, string? stemPath, ImageOutcome outcome, Stopwatch sw, bool verbose)
    {
        if (_start != null) throw new UsageException("--start works on one view of the image; use it without --crops five");
        var image = ImageLoader.Load(file.Path, _s.MaxPixels);
        var five = ViewPipeline.ExplainFiveCrop(_explainer, file.Path, image, _preprocessing, _inputH, _inputW, _s.Class, _s.Maps);
        var result = five.Protocol;
        outcome.Predictions = result.Predictions;
        if (verbose) PrintPredictions(file.Path, result.Predictions);
        var map = five.Map;
        var first = five.First;
        var doc = Serialize(w => ExplanationJson.Write(w, file.Path, _modelPath, _model.Sha256, five.Whole, first, map, sw.Elapsed.TotalMilliseconds,
            result.Predictions, result.Unravelled));
        outcome.Box = map.Box;
        if (verbose) PrintExplained(first, map);
        if (stemPath != null)
        {
            WriteFiles(stemPath, image, map, doc, verbose);
            outcome.DocumentFiles.Add(stemPath + ".json");
            outcome.OverlayFiles.Add(stemPath + ".overlay.png");
        }
        outcome.Documents.Add(doc);
    }

    private ExplanationInput LoadInput(string path)
    {
        if (_s.InputTensor != null) return ExplanationInput.FromNpy(path);
        return ViewPipeline.Input(path, ImageLoader.Load(path, _s.MaxPixels), _preprocessing, _inputH, _inputW, _s.Crops);
    }

    /// <summary>The dots drawn on an overlay: the paper's fixation points; none for the weighted rules, whose heat map is the picture.</summary>
    private IReadOnlyList<(int X, int Y)> OverlayPoints(FixationMap map) =>
        _s.Unravel.Rules == RuleFamily.Weighted ? Array.Empty<(int, int)>() : map.Points;

    private void WriteFiles(string name, RgbImage background, FixationMap map, byte[] doc, bool verbose)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(name))!);
        string overlay = name + ".overlay.png", heatPng = name + ".heatmap.png", heatNpy = name + ".heatmap.npy", jsonPath = name + ".json";
        AtomicFile.WriteAllBytes(overlay, MapImages.OverlayPng(background, map.Heat, map.Box, OverlayPoints(map), _s.Alpha, _s.Colormap));
        AtomicFile.WriteAllBytes(heatPng, MapImages.GrayPng(map.Heat, map.Width, map.Height));
        AtomicFile.Write(heatNpy, stream => NpyFile.WriteFloat32(stream, new[] { map.Height, map.Width }, map.Heat));
        AtomicFile.WriteAllBytes(jsonPath, doc); // last: its presence marks the image as done (--skip-existing)
        if (verbose)
            foreach (var p in new[] { overlay, heatPng, heatNpy, jsonPath }) _info.WriteLine($"  wrote {p}");
    }

    private void WriteLayers(string name, ExplanationInput input, TensorExplanation e, bool verbose)
    {
        var background = input.Image ?? TensorPreview.ToImage(input.Tensor);
        var tiles = ViewPipeline.LayerPoints(_explainer, input, e);
        string folder = name + ".layers";
        Directory.CreateDirectory(folder);
        for (int i = 0; i < tiles.Count; i++)
        {
            string safe = new string(tiles[i].Name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
            AtomicFile.WriteAllBytes(Path.Combine(folder, $"{i + 1:D3}_{safe}.png"), LayerSheet.LayerPng(background, tiles[i].Points));
        }
        if (tiles.Count == 0) return;
        AtomicFile.WriteAllBytes(name + ".layers.png", LayerSheet.ContactSheetPng(background, tiles));
        if (verbose) _info.WriteLine($"  wrote {name}.layers.png and {tiles.Count} layer pictures in {folder}");
    }

    private static List<string> ExistingDocuments(string stemPath)
    {
        if (File.Exists(stemPath + ".json")) return new List<string> { stemPath + ".json" };
        string? dir = Path.GetDirectoryName(stemPath);
        if (dir == null || !Directory.Exists(dir)) return new List<string>();
        string prefix = Path.GetFileName(stemPath) + ".";
        return Directory.EnumerateFiles(dir, prefix + "*.json")
            .Where(f => int.TryParse(Path.GetFileNameWithoutExtension(f)[prefix.Length..], out _))
            .Order(StringComparer.Ordinal).ToList();
    }

    private static void ReadSummary(string jsonFile, byte[] bytes, ImageOutcome outcome)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            outcome.Predictions = doc.RootElement.GetProperty("predictions").EnumerateArray()
                .Select(p => new Prediction(p.GetProperty("index").GetInt32(), p.GetProperty("label").ValueKind == JsonValueKind.String ? p.GetProperty("label").GetString() : null, p.GetProperty("score").GetDouble()))
                .ToList();
            if (doc.RootElement.GetProperty("box").ValueKind == JsonValueKind.Array)
                outcome.Box = doc.RootElement.GetProperty("box").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new CnnFixationsException($"existing result '{jsonFile}' is unreadable ({e.Message}); delete it to explain the image again");
        }
    }

    /// <summary>An error row of results.jsonl.</summary>
    private static byte[] ErrorRow(ImageOutcome o) => Serialize(w =>
    {
        w.WriteStartObject();
        w.WriteString("image", o.File.Path);
        w.WriteString("error", o.Error);
        w.WriteEndObject();
    });

    /// <summary>results.jsonl (every document, or an error row, in input order: filled as the images finished) and results.csv (one row per image).</summary>
    private void WriteRunFiles(string dir, List<ImageOutcome> outcomes, JsonLinesSink runLines)
    {
        runLines.Commit();
        var csv = new StringBuilder("file,top1_index,top1_label,top1_score,box_xmin,box_ymin,box_xmax,box_ymax,error\n");
        foreach (var o in outcomes)
        {
            var box = o.Box;
            csv.Append(Csv(o.File.Path)).Append(',')
               .Append(o.Top1?.Index.ToString(CultureInfo.InvariantCulture)).Append(',')
               .Append(Csv(o.Top1?.Label ?? "")).Append(',')
               .Append(o.Top1?.Score.ToString("R", CultureInfo.InvariantCulture)).Append(',')
               .Append(box == null ? ",,," : string.Join(",", box)).Append(',')
               .Append(Csv(o.Error ?? "")).Append('\n');
        }
        AtomicFile.WriteAllBytes(Path.Combine(dir, "results.csv"), Encoding.UTF8.GetBytes(csv.ToString()));
        if (!_s.Quiet) _info.WriteLine($"wrote {Path.Combine(dir, "results.jsonl")} and {Path.Combine(dir, "results.csv")}");
    }

    /// <summary>results.run.jsonl: what 'merge' needs to join this run's results with other shards' (see <see cref="RunManifest"/>).</summary>
    private void WriteManifest(string dir, int inputCount, List<(int Index, int Lines)> images)
    {
        var manifest = new RunManifest
        {
            Command = "explain",
            Shard = _s.Shard ?? Shard.Whole,
            Inputs = inputCount,
            ModelFile = Path.GetFileName(_modelPath),
            ModelSha256 = _model.Sha256,
            Options = RunManifest.OptionsJson(_s, nameof(_s.Jobs), nameof(_s.Quiet), nameof(_s.SkipExisting), nameof(_s.OutDir),
                nameof(_s.Json), nameof(_s.Report), nameof(_s.Model), nameof(_s.Shard)),
            Images = images,
        };
        AtomicFile.WriteAllBytes(Path.Combine(dir, RunManifest.ExplainFile), manifest.ToJson());
    }

    private void WriteReport(string dir, List<ImageOutcome> outcomes)
    {
        string Relative(string path) => Path.GetRelativePath(dir, path);
        var entries = outcomes.Select(o => new Reporting.ReportEntry(
            o.File.Path,
            o.ReportPicture != null ? Relative(o.ReportPicture) : o.OverlayFiles.Count > 0 ? Relative(o.OverlayFiles[0]) : null,
            o.DocumentFiles.Count > 0 ? Relative(o.DocumentFiles[0]) : null,
            o.Predictions, o.Box, o.Error)).ToList();
        string path = Reporting.HtmlReport.Write(dir, entries, $"CNN Fixations: {Path.GetFileName(_modelPath)}");
        if (!_s.Quiet) _info.WriteLine($"wrote {path}");
    }

    private static string Csv(string value) =>
        value.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>--json: JSON Lines, one document per line, whatever their number (filled as the images finished).</summary>
    private void WriteJson(JsonLinesSink jsonLines)
    {
        jsonLines.Commit();
        if (_s.Json != "-") return;
        _stdout.Write(Encoding.UTF8.GetString(jsonLines.ToArray()));
        _stdout.Flush();
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
            _info.WriteLine($"  {p.Score.ToString("P2", CultureInfo.InvariantCulture),8}  {p.Index,5}  {p.Label ?? "-"}");
    }

    private void PrintExplained(TensorExplanation e, FixationMap map)
    {
        string what = e.Start != null ? $"from {e.Start}" : $"class {e.Target}{(e.TargetLabel is { } l ? $" ({l})" : "")}";
        _info.WriteLine($"  explained {what}: {e.Fixations.Input.Count} input fixations, " +
                        $"{map.KeptPoints.Count}/{map.Points.Count} points kept, box {(map.Box == null ? "none" : $"[{string.Join(", ", map.Box)}]")}" +
                        (map.Points.Count > 0 && map.KeptPoints.Count == 0 ? " (every point counts as an outlier: the fixations are scattered; see --outlier-fraction)" : ""));
    }

    private void Validate()
    {
        MethodOptions.Validate(_s.Unravel, _s.Maps);
        if (_s.Images.FirstOrDefault(i => i.StartsWith('-') && i.Length > 1) is { } unknown)
            throw new UsageException($"unknown option '{unknown}' (see 'cnn-fixations explain --help')");
        if (_s.Images.Length == 0 && _s.InputTensor == null)
            throw new UsageException("nothing to explain: give image files, folders or globs, or --input-tensor FILE.npy");
        if (_s.Images.Length > 0 && _s.InputTensor != null)
            throw new UsageException("give either images or --input-tensor, not both");
        if (_s.Class != null && _s.TopKGiven)
            throw new UsageException("--class and --top-k are exclusive: explain one named class, or the N best");
        if (_s.Start != null && (_s.Class != null || _s.TopKGiven))
            throw new UsageException("--start replaces the class logit as the start of the walk; it cannot be combined with --class or --top-k");
        if (_s.TopK < 1) throw new UsageException($"--top-k must be at least 1 (got {_s.TopK})");
        if (_s.Jobs < 1) throw new UsageException($"--jobs must be at least 1 (got {_s.Jobs})");
        if (_s.InputTensor != null && (_s.Preset != null || _s.Mean != null || _s.Std != null || _s.Scale != null || _s.Bgr))
            throw new UsageException("--preset, --mean, --std, --scale and --bgr do not apply to --input-tensor (the tensor is used as it is)");
        if (_s.InputTensor != null && _s.Crops != CropMode.Whole) throw new UsageException("--crops does not apply to --input-tensor");
        if (_s.Crops == CropMode.Five && _s.TopKGiven) throw new UsageException("--crops five explains one label per image; --top-k does not apply");
        if (_s.Method != ExplanationMethods.Fixations && (_s.Start != null || _s.Crops == CropMode.Five))
            throw new UsageException($"--method {_s.Method} explains class logits of one view: it cannot be combined with --start or --crops five");
        if (_s.Alpha is < 0 or > 1 || double.IsNaN(_s.Alpha)) throw new UsageException($"--alpha must be between 0 and 1 (got {_s.Alpha.ToString(CultureInfo.InvariantCulture)})");
        if (_s.MaxPixels < 1) throw new UsageException("--max-pixels must be positive");
    }

    private string _preprocessingChoice = "";

    /// <summary>The library's choice (<see cref="ModelConventions.ChoosePreprocessing"/>), with --preset and --mean/--std/--scale/--bgr.</summary>
    private Preprocessing ChoosePreprocessing(AdaptedModel model)
    {
        var choice = ModelConventions.ChoosePreprocessing(model, _s.Preset, new PreprocessingAdjustments
        {
            Mean = _s.Mean != null ? MethodOptions.ParseTriple("--mean", _s.Mean) : null,
            Std = _s.Std != null ? MethodOptions.ParseTriple("--std", _s.Std, positive: true) : null,
            Scale = _s.Scale,
            Bgr = _s.Bgr,
        });
        _preprocessingChoice = choice.Describe();
        return choice.Preprocessing;
    }

    /// <summary>--size, checked against the model (in the command line's words), else the size the library knows from the model (<see cref="ModelConventions.KnownInputSize"/>).</summary>
    private (int H, int W) InputSize(OnnxModel model)
    {
        var shape = model.InputShape;
        int declaredH = shape.Length == 4 ? shape[2] : -1, declaredW = shape.Length == 4 ? shape[3] : -1;
        if (_s.Size != null)
        {
            var (h, w) = ParseSize(_s.Size);
            if ((long)h * w > ExplanationInput.MaxInputPixels)
                throw new UsageException($"--size {_s.Size} is larger than {ExplanationInput.MaxInputPixels} pixels; no image classifier takes that");
            if ((declaredH > 0 && declaredH != h) || (declaredW > 0 && declaredW != w))
                throw new UsageException($"--size {_s.Size} conflicts with the model's fixed input size {declaredH}x{declaredW}");
            return (h, w);
        }
        if (_s.InputTensor != null && !(declaredH > 0 && declaredW > 0)) return (-1, -1);
        return ModelConventions.KnownInputSize(model)
            ?? throw new UsageException($"the model's input size is not fixed ({Shapes.Format(shape)}) and its metadata has no input_size; give it with --size HxW");
    }

    private static (int H, int W) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= 16384))
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture));
        throw new UsageException($"--size '{text}' is not HxW or N (positive sizes up to 16384)");
    }

    /// <summary>The number of class scores known before the forward pass, or int.MaxValue when the shape is not fixed.</summary>
    private static int DeclaredClassCount(Explainer explainer) =>
        explainer.TensorShape(explainer.LogitsTensor) is { Length: > 0 } shape && shape.All(d => d > 0) ? shape.Aggregate(1, (a, d) => a * d) : int.MaxValue;

    private static void PrepareOutDir(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".cnn-fixations-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, Array.Empty<byte>());
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"output folder '{dir}' is not writable: {e.Message}", e);
        }
    }
}
