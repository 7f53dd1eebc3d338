using CnnFixations.Imaging;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CnnFixations.Baselines;
using CnnFixations.Evaluation;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using Spectre.Console;

namespace CnnFixations.Cli;

/// <summary>
/// <c>cnn-fixations evaluate --boxes FILE --out DIR</c>: localization, pointing game, deletion/insertion and
/// fixation-only accuracy of saliency methods against ground-truth boxes, one image at a time.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var boxes = new Option<string>("--boxes") { Description = "Ground truth: a CSV file (header with image,class_index,xmin,ymin,xmax,ymax; one row per box; image paths relative to the file's folder; 0-based inclusive pixels) or a folder of Pascal VOC / ILSVRC XML files (needs --synsets).", Required = true };
        var synsets = new Option<string?>("--synsets") { Description = "For XML annotations: synsets one per line, line i = class i." };
        var model = new Option<string?>("--model", "-m") { Description = $"ONNX image classifier. Default: the bundled MobileNetV2 (models/{ExplainCommand.BundledModelFile})." };
        var labelOffset = new Option<int?>("--label-offset") { Description = "Model output index = class_index + K. Default: the model's metadata label_offset, else 0." };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated saliency methods: {SaliencyMethods.Names}.", DefaultValueFactory = _ => "fixations" };
        var threshold = new Option<double>("--threshold") { Description = "Heat-map boxes: the largest connected region at or above this fraction of the map's maximum.", DefaultValueFactory = _ => 0.5 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images." };
        var preset = new Option<string?>("--preset") { Description = "Preprocessing: torchvision, caffe or tf. Default: the model's metadata, else torchvision." };
        var outDir = new Option<string>("--out", "-o") { Description = "Folder for evaluation.json, evaluation.csv and evaluation.md.", Required = true };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines." };
        var shard = new Option<string?>("--shard") { Description = "Evaluate shard I of N (I from 0 to N-1): image k of the ground truth (after --limit) goes to shard k mod N, with all its boxes. 'cnn-fixations merge' joins the shards' outputs and recomputes the metrics." };
        var command = new Command("evaluate", "Score saliency methods against ground-truth boxes: top-1 and GT-known localization, pointing game, " +
            "deletion and insertion AUC and fixation-only accuracy. Writes evaluation.json, evaluation.csv and evaluation.md to --out and prints the table.")
        {
            boxes, synsets, model, labelOffset, methods, threshold, limit, preset, outDir, quiet, shard,
        };
        command.SetAction(parse => Run(
            parse.GetValue(boxes)!, parse.GetValue(synsets), parse.GetValue(model), parse.GetValue(labelOffset), parse.GetValue(methods)!,
            parse.GetValue(threshold), parse.GetValue(limit), parse.GetValue(preset), parse.GetValue(outDir)!, parse.GetValue(quiet),
            parse.GetValue(shard) is { } shardText ? Shard.Parse(shardText) : Shard.Whole, stdout, stderr));
        return command;
    }

    private static int Run(string boxesPath, string? synsetsPath, string? modelPath, int? labelOffset, string methodList, double threshold,
        int? limit, string? preset, string outDir, bool quiet, Shard shard, TextWriter stdout, TextWriter stderr)
    {
        if (!(threshold > 0) || threshold > 1) throw new UsageException($"--threshold must be in (0, 1], got {threshold.ToString(CultureInfo.InvariantCulture)}");
        if (limit is < 1) throw new UsageException("--limit must be a positive number of images");
        if (labelOffset is < 0) throw new UsageException("--label-offset must be 0 or more");
        var methods = SaliencyMethods.TryCreate(methodList, MapOptions.Default, out var unknown)
            ?? throw new UsageException($"--methods: unknown method '{unknown}'; available: {SaliencyMethods.Names}");

        var images = GroundTruthReader.Read(boxesPath, synsetsPath);
        if (limit is { } n && n < images.Count) images = images.Take(n).ToList();
        int inputCount = images.Count;
        var inputIndex = shard.Select(inputCount);
        images = inputIndex.Select(k => images[k]).ToList();
        string gtFolder = Directory.Exists(boxesPath) ? Path.GetFullPath(boxesPath) : Path.GetDirectoryName(Path.GetFullPath(boxesPath)) ?? ".";
        PrepareOutDir(outDir);

        string resolved = ModelDefaults.ResolveModelPath(modelPath);
        var adapted = InputAdapter.Adapt(OnnxModel.Load(resolved));
        var onnx = adapted.Model;
        var preprocessing = PreprocessingChoice.For(adapted, preset).Preprocessing;
        var (h, w) = ModelDefaults.FixedInputSize(onnx);
        int offset = labelOffset ?? ModelDefaults.LabelOffset(onnx);
        using var explainer = new Explainer(onnx);
        using var evaluator = new Evaluator(explainer, preprocessing, h, w, offset, threshold);

        var applicable = new List<ISaliencyMethod>();
        var entries = new List<(string, string?)>();
        foreach (var m in methods)
        {
            string? reason = m.NotApplicable(explainer);
            entries.Add((m.Name, reason));
            if (reason == null) applicable.Add(m);
            else if (!quiet) stderr.WriteLine($"{m.Name}: not applicable to this model: {reason}");
        }
        var report = new EvaluationReport(Path.GetFileName(resolved), threshold, offset, entries);

        var perImage = new List<IReadOnlyList<ImageResult>>();
        var stopwatch = Stopwatch.StartNew();
        bool interactive = !quiet && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (applicable.Count > 0)
        {
            if (interactive)
            {
                AnsiConsole.Progress().Start(ctx =>
                {
                    var task = ctx.AddTask("evaluating", maxValue: images.Count);
                    foreach (var image in images)
                    {
                        var rows = evaluator.EvaluateImage(image, Path.GetRelativePath(gtFolder, image.ImagePath), applicable);
                        report.Add(rows);
                        perImage.Add(rows);
                        task.Increment(1);
                    }
                });
            }
            else
            {
                for (int i = 0; i < images.Count; i++)
                {
                    string name = Path.GetRelativePath(gtFolder, images[i].ImagePath);
                    var rows = evaluator.EvaluateImage(images[i], name, applicable);
                    report.Add(rows);
                    perImage.Add(rows);
                    if (!quiet)
                        stdout.WriteLine($"[{i + 1}/{images.Count}] {name}: " + string.Join("; ", rows.Select(r =>
                            $"{r.Method} {(r.TopOneLocalized ? "localized" : r.LabelRight ? "label right, box missed" : "label wrong")} (IoU {r.TopOneIou:F2})")));
                }
            }
        }

        var manifest = new RunManifest
        {
            Command = "evaluate",
            Shard = shard,
            Inputs = inputCount,
            ModelFile = Path.GetFileName(resolved),
            ModelSha256 = onnx.Sha256,
            Options = RunManifest.OptionsJson(new { boxes = boxesPath, synsets = synsetsPath, labelOffset = offset, methods = methodList, threshold, limit, preset }),
            Report = EvaluationRows.ReportHeader(Path.GetFileName(resolved), threshold, offset, entries),
            Images = perImage.Select((rows, i) => (inputIndex[i], rows.Count)).ToList(),
        };
        WriteOutputs(report, outDir, stdout, manifest, EvaluationRows.Lines(perImage));
        if (!quiet) stdout.WriteLine($"{images.Count} images, {stopwatch.Elapsed.TotalSeconds:F1} s; wrote evaluation.json, evaluation.csv and evaluation.md to {outDir}");
        return CliApp.Ok;
    }

    /// <summary>evaluation.json, .csv, .md, the rows at full precision and the run file; prints the table.</summary>
    internal static void WriteOutputs(EvaluationReport report, string outDir, TextWriter stdout, RunManifest manifest, byte[] rows)
    {
        var utf8 = new UTF8Encoding(false);
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "evaluation.json"), report.Json());
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "evaluation.csv"), utf8.GetBytes(report.Csv()));
        string table = report.Markdown();
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "evaluation.md"), utf8.GetBytes(table));
        AtomicFile.WriteAllBytes(Path.Combine(outDir, EvaluationRows.FileName), rows);
        AtomicFile.WriteAllBytes(Path.Combine(outDir, RunManifest.EvaluateFile), manifest.ToJson());
        stdout.WriteLine();
        stdout.WriteLine(table);
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
