using CnnFixations.Imaging;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CnnFixations.Baselines;
using CnnFixations.Evaluation;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;
using Spectre.Console;

namespace CnnFixations.Cli;

/// <summary>
/// <c>cnn-fixations evaluate --boxes FILE --out DIR</c>: localization, pointing game, deletion/insertion,
/// fixation-only accuracy and class sensitivity of saliency methods against ground-truth boxes, one image at a
/// time; optionally the grid pointing game and the model-randomization check.
/// </summary>
internal static class EvaluateCommand
{
    private sealed record Settings
    {
        public required string Boxes { get; init; }
        public string? Synsets { get; init; }
        public string? Model { get; init; }
        public int? LabelOffset { get; init; }
        public required string Methods { get; init; }
        public int? Limit { get; init; }
        public required string OutDir { get; init; }
        public bool Quiet { get; init; }
        public string? Preset { get; init; }
        public string? Mean { get; init; }
        public string? Std { get; init; }
        public float? Scale { get; init; }
        public bool Bgr { get; init; }
        public string? Output { get; init; }
        public CropMode Crops { get; init; }
        public long MaxPixels { get; init; }
        public required UnravelOptions Unravel { get; init; }
        public required MapOptions Maps { get; init; }
        public string? Grid { get; init; }
        public int GridCount { get; init; }
        public long GridSeed { get; init; }
        public int Randomization { get; init; }
        public string? RandomizationDepths { get; init; }
        public long RandomizationSeed { get; init; }
    }

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var boxes = new Option<string>("--boxes") { Description = "Ground truth: a CSV file (header with image,class_index,xmin,ymin,xmax,ymax; one row per box; image paths relative to the file's folder; 0-based inclusive pixels) or a folder of Pascal VOC / ILSVRC XML files (needs --synsets).", Required = true };
        var synsets = new Option<string?>("--synsets") { Description = "For XML annotations: synsets one per line, line i = class i." };
        var model = new Option<string?>("--model", "-m") { Description = $"ONNX image classifier. Default: the bundled MobileNetV2 (models/{ExplainCommand.BundledModelFile})." };
        var labelOffset = new Option<int?>("--label-offset") { Description = "Model output index = class_index + K. Default: the model's metadata label_offset, else 0." };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated saliency methods: {ExplanationMethods.Names}.", DefaultValueFactory = _ => ExplanationMethods.Fixations };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images." };
        var outDir = new Option<string>("--out", "-o") { Description = "Folder for evaluation.json, evaluation.csv and evaluation.md.", Required = true };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines." };
        var grid = new Option<string?>("--grid") { Description = "Grid pointing game: collage sizes k (k x k tiles), comma-separated, e.g. 2,3. Off by default." };
        var gridCount = new Option<int>("--grid-count") { Description = "Collages per grid size (fewer when the correctly classified photos run out).", DefaultValueFactory = _ => 10 };
        var gridSeed = new Option<long>("--grid-seed") { Description = "Seed of the shuffle that picks the collage photos (seed + k for size k).", DefaultValueFactory = _ => 0 };
        var randomization = new Option<int>("--randomization") { Description = "Model-randomization check on the first N evaluated images (0: off). Loads the model once per depth.", DefaultValueFactory = _ => 0 };
        var randomizationDepths = new Option<string?>("--randomization-depths") { Description = "Numbers of weighted layers randomized from the top, comma-separated. Default: 1, 2, 4, 8, ... and all." };
        var randomizationSeed = new Option<long>("--randomization-seed") { Description = "Seed of the random weights (seed + i for the i-th layer from the top).", DefaultValueFactory = _ => 0 };
        var shared = new MethodOptions();
        shared.BoxThreshold.Aliases.Add("--threshold");
        shared.BoxThreshold.Description = "Heat-map boxes: the largest connected region at or above this fraction of the map's maximum (also --threshold).";
        var command = new Command("evaluate", "Score saliency methods against ground-truth boxes: top-1 and GT-known localization, pointing game (15 px and strict), " +
            "deletion and insertion AUC, fixation-only accuracy and top-1/top-2 map correlation, on all images and on the small-object subset; optionally the grid pointing game " +
            "(--grid) and the cascading model-randomization check (--randomization). Writes evaluation.json, evaluation.csv and evaluation.md to --out and prints the tables.")
        {
            boxes, synsets, model, labelOffset, methods, limit, outDir, quiet, grid, gridCount, gridSeed, randomization, randomizationDepths, randomizationSeed,
        };
        shared.AddTo(command);
        command.SetAction(parse => Run(new Settings
        {
            Boxes = parse.GetValue(boxes)!,
            Synsets = parse.GetValue(synsets),
            Model = parse.GetValue(model),
            LabelOffset = parse.GetValue(labelOffset),
            Methods = parse.GetValue(methods)!,
            Limit = parse.GetValue(limit),
            OutDir = parse.GetValue(outDir)!,
            Quiet = parse.GetValue(quiet),
            Preset = parse.GetValue(shared.Preset),
            Mean = parse.GetValue(shared.Mean),
            Std = parse.GetValue(shared.Std),
            Scale = parse.GetValue(shared.Scale),
            Bgr = parse.GetValue(shared.Bgr),
            Output = parse.GetValue(shared.Output),
            Crops = shared.Views(parse),
            MaxPixels = parse.GetValue(shared.MaxPixels),
            Unravel = shared.Unravel(parse),
            Maps = shared.Maps(parse),
            Grid = parse.GetValue(grid),
            GridCount = parse.GetValue(gridCount),
            GridSeed = parse.GetValue(gridSeed),
            Randomization = parse.GetValue(randomization),
            RandomizationDepths = parse.GetValue(randomizationDepths),
            RandomizationSeed = parse.GetValue(randomizationSeed),
        }, stdout, stderr));
        return command;
    }

    private static int[] ParseList(string option, string text, int min, int max)
    {
        var values = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
                throw new UsageException($"{option} '{text}' is not a comma-separated list of whole numbers from {min} to {max}");
            values.Add(v);
        }
        return values.Distinct().Order().ToArray();
    }

    private static int Run(Settings s, TextWriter stdout, TextWriter stderr)
    {
        double threshold = s.Maps.BoxThreshold;
        if (!(threshold > 0) || threshold > 1) throw new UsageException($"--threshold must be in (0, 1], got {threshold.ToString(CultureInfo.InvariantCulture)}");
        MethodOptions.Validate(s.Unravel, s.Maps);
        if (s.Limit is < 1) throw new UsageException("--limit must be a positive number of images");
        if (s.LabelOffset is < 0) throw new UsageException("--label-offset must be 0 or more");
        if (s.Crops == CropMode.Five) throw new UsageException("--crops five is not supported by evaluate (its label comes from ten crops); use whole or center");
        if (s.MaxPixels < 1) throw new UsageException("--max-pixels must be positive");
        if (s.GridCount < 1) throw new UsageException("--grid-count must be at least 1");
        if (s.Randomization < 0) throw new UsageException("--randomization must be 0 (off) or a number of images");
        var gridSizes = s.Grid != null ? ParseList("--grid", s.Grid, 2, 8) : Array.Empty<int>();
        var methods = ExplanationMethods.TryCreate(s.Methods, s.Maps, out var unknown)
            ?? throw new UsageException($"--methods: unknown method '{unknown}'; available: {ExplanationMethods.Names}");

        var images = GroundTruthReader.Read(s.Boxes, s.Synsets);
        if (s.Limit is { } n && n < images.Count) images = images.Take(n).ToList();
        string gtFolder = Directory.Exists(s.Boxes) ? Path.GetFullPath(s.Boxes) : Path.GetDirectoryName(Path.GetFullPath(s.Boxes)) ?? ".";
        PrepareOutDir(s.OutDir);

        string resolved = ModelDefaults.ResolveModelPath(s.Model);
        var adapted = InputAdapter.Adapt(OnnxModel.Load(resolved));
        var onnx = adapted.Model;
        var preprocessing = s.Mean == null && s.Std == null && s.Scale == null && !s.Bgr
            ? PreprocessingChoice.For(adapted, s.Preset).Preprocessing
            : MethodOptions.ChoosePreprocessing(onnx, s.Preset, s.Mean, s.Std, s.Scale, s.Bgr);
        var (h, w) = ModelDefaults.FixedInputSize(onnx);
        int offset = s.LabelOffset ?? ModelDefaults.LabelOffset(onnx);
        using var explainer = new Explainer(onnx, s.Unravel, s.Output);
        using var evaluator = new Evaluator(explainer, new EvaluationSettings
        {
            Preprocessing = preprocessing, InputHeight = h, InputWidth = w, LabelOffset = offset, Threshold = threshold,
            CenterCrop = s.Crops == CropMode.Center, MaxPixels = s.MaxPixels,
        });

        var applicable = new List<ISaliencyMethod>();
        var entries = new List<(string, string?)>();
        foreach (var m in methods)
        {
            string? reason = m.NotApplicable(explainer);
            entries.Add((m.Name, reason));
            if (reason == null) applicable.Add(m);
            else if (!s.Quiet) stderr.WriteLine($"{m.Name}: not applicable to this model: {reason}");
        }
        var report = new EvaluationReport(Path.GetFileName(resolved), threshold, offset, entries);

        var stopwatch = Stopwatch.StartNew();
        bool interactive = !s.Quiet && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var candidates = new List<GridCandidate>();
        var evaluated = new List<(string Name, GroundTruthImage Image, int ClassIndex)>();

        void Error(string what, string message)
        {
            report.AddError(what, message);
            if (!s.Quiet) stderr.WriteLine($"{what}: {message}");
        }

        if (applicable.Count > 0)
        {
            Steps(interactive, "evaluating", images.Count, i =>
            {
                var image = images[i];
                string name = Path.GetRelativePath(gtFolder, image.ImagePath);
                try
                {
                    var result = evaluator.EvaluateImage(image, name, applicable);
                    report.Add(result.Rows);
                    evaluated.Add((name, image, result.PredictedClass));
                    if (result.LabelRight) candidates.Add(new GridCandidate(name, image.ImagePath, result.PredictedClass));
                    return $"{name}: " + string.Join("; ", result.Rows.Select(r =>
                        $"{r.Method} {(r.TopOneLocalized ? "localized" : r.LabelRight ? "label right, box missed" : "label wrong")} (IoU {r.TopOneIou:F2})"));
                }
                catch (CnnFixationsException e)
                {
                    Error(name, e.Message);
                    return $"{name}: error";
                }
            }, stdout, s.Quiet);

            if (gridSizes.Length > 0)
            {
                report.GridSettings = (s.GridSeed, s.GridCount);
                var collages = new List<GridCollage>();
                foreach (int k in gridSizes)
                {
                    var selected = GridPointingGame.Select(candidates, k, s.GridCount, s.GridSeed);
                    report.AddCollages(k, selected.Count);
                    collages.AddRange(selected);
                    if (selected.Count < s.GridCount && !s.Quiet)
                        stderr.WriteLine($"grid {k}x{k}: {selected.Count} of {s.GridCount} collages ({candidates.Count} correctly classified photos)");
                }
                Steps(interactive, "grid pointing game", collages.Count, i =>
                {
                    try
                    {
                        var results = evaluator.EvaluateCollage(collages[i], applicable);
                        report.AddGrid(results);
                        return $"collage {collages[i].Label}: " + string.Join("; ", results.GroupBy(r => r.Method).Select(g =>
                            $"{g.Key} mass {g.Average(r => r.MassInTile):F2}, max {g.Count(r => r.MaxInTile)}/{g.Count()}"));
                    }
                    catch (CnnFixationsException e)
                    {
                        Error($"collage {collages[i].Label}", e.Message);
                        return $"collage {collages[i].Label}: error";
                    }
                }, stdout, s.Quiet);
            }

            if (s.Randomization > 0)
            {
                var layers = WeightRandomization.Layers(onnx);
                if (layers.Count == 0) throw new CnnFixationsException("--randomization: the model has no Conv, Gemm or MatMul whose weights are float or int8/uint8 initializers");
                var depths = s.RandomizationDepths != null ? ParseList("--randomization-depths", s.RandomizationDepths, 1, layers.Count) : WeightRandomization.DefaultDepths(layers.Count).ToArray();
                report.RandomizationSettings = (s.RandomizationSeed, layers.Count);
                var chosen = evaluated.Take(s.Randomization).ToList();
                if (!s.Quiet) stdout.WriteLine($"randomization check: {chosen.Count} images, {layers.Count} weighted layers, depths {string.Join(", ", depths)}");
                var results = evaluator.RandomizationCheck(chosen, applicable, layers, depths, s.RandomizationSeed, s.Output,
                    d => { if (!s.Quiet) stdout.WriteLine($"  randomized the top {d} layers"); });
                report.AddRandomization(results);
            }
        }

        var utf8 = new UTF8Encoding(false);
        AtomicFile.WriteAllBytes(Path.Combine(s.OutDir, "evaluation.json"), report.Json());
        AtomicFile.WriteAllBytes(Path.Combine(s.OutDir, "evaluation.csv"), utf8.GetBytes(report.Csv()));
        string table = report.Markdown();
        AtomicFile.WriteAllBytes(Path.Combine(s.OutDir, "evaluation.md"), utf8.GetBytes(table));
        stdout.WriteLine();
        stdout.WriteLine(table);
        if (!s.Quiet) stdout.WriteLine($"{images.Count} images, {stopwatch.Elapsed.TotalSeconds:F1} s; wrote evaluation.json, evaluation.csv and evaluation.md to {s.OutDir}");
        if (report.Errors.Count > 0)
        {
            stderr.WriteLine($"{report.Errors.Count} image{(report.Errors.Count == 1 ? "" : "s")} or collage{(report.Errors.Count == 1 ? "" : "s")} could not be evaluated (error rows in evaluation.csv and evaluation.json)");
            return CliApp.Failure;
        }
        return CliApp.Ok;
    }

    /// <summary>Runs count steps, with a progress bar on an interactive terminal, else one line per step unless quiet.</summary>
    private static void Steps(bool interactive, string label, int count, Func<int, string> step, TextWriter stdout, bool quiet)
    {
        if (count == 0) return;
        if (interactive)
        {
            AnsiConsole.Progress().Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: count);
                for (int i = 0; i < count; i++)
                {
                    step(i);
                    task.Increment(1);
                }
            });
            return;
        }
        for (int i = 0; i < count; i++)
        {
            string line = step(i);
            if (!quiet) stdout.WriteLine($"[{i + 1}/{count}] {line}");
        }
    }

    private static void PrepareOutDir(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"output folder '{dir}' cannot be created: {e.Message}", e);
        }
    }
}
