using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Maps;

namespace CnnFixations.Cli;

/// <summary>
/// <c>cnn-fixations caption</c>: captions images with a CNN-LSTM captioner (docs/captioning.md) and
/// walks every generated word back through the decoder and the CNN to the pixels behind it.
/// </summary>
internal static class CaptionCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var images = new Argument<string[]>("images") { Description = "Images to caption: files, folders, or globs such as 'photos/**/*.jpg'.", Arity = ArgumentArity.ZeroOrMore };
        var model = new Option<string?>("--model", "-m") { Description = $"Captioner: a folder holding {CaptionerManifest.FileName}, or the manifest file. Default: the bundled demonstration captioner (models/{DemoCaptioner.Folder}/)." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for <stem>.json, <stem>.caption.png (one panel per word) and <stem>.wordNN.overlay.png." };
        var json = new Option<string?>("--json") { Description = "Write the JSON documents to FILE, or to standard output with '-': JSON Lines, one image per line, in input order." };
        var maxWords = new Option<int>("--max-words") { Description = "Stop a caption after this many words.", DefaultValueFactory = _ => 20 };
        var beam = new Option<int>("--beam") { Description = "Beam width of the decoding: 1 (default) is greedy; N keeps the N most probable partial captions at every step. Every word is then explained on the chosen caption's path.", DefaultValueFactory = _ => 1 };
        var report = new Option<bool>("--report") { Description = "Also write report.html in --out (one card per image: caption panels, caption, links)." };
        var cellOnly = new Option<bool>("--cell-path-only") { Description = "Walk the LSTM along the cell path and each step's own input only, not through the recurrent weights." };
        var contributionShare = new Option<double>("--contribution-share") { Description = "At each fully connected step of the decoder walk keep only the largest supporting contributions making up this share of their sum (1: all of them, the rule as written).", DefaultValueFactory = _ => 1.0 };
        var gradCam = new Option<bool>("--gradcam") { Description = "Also draw the per-word Grad-CAM baseline (the word logit's gradient, back through the decoder, at the encoder's last spatial tensor): <stem>.wordNN.gradcam.png and a panel beside each word's." };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Include the images in subfolders of folder arguments." };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Images processed at once (default: the number of cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var rules = new Option<string>("--rules") { Description = "The walk through the decoder and the CNN: 'paper' (default: every supporting input kept, the paper's CNN rules, points and outlier removal; it grounds the demonstration captioner's words best) or 'weighted' (each word's logit shared down by positive contribution, contrasted with the other words, weights carried to the pixels as 'explain' does).", DefaultValueFactory = _ => "paper" };
        var contrast = new Option<string>("--contrast") { Description = "Weighted rules: subtract the other words' walks, weighted half by their probabilities and half evenly ('softmax', default), or explain the word's logit alone ('none').", DefaultValueFactory = _ => "softmax" };
        var sigma = new Option<double?>("--sigma") { Description = "Gaussian blur of the heat maps. Weighted rules: in network-input pixels (default 2, plus the coarse blur of 'explain'); paper rules: in original-image pixels (default 20)." };
        var alpha = new Option<double>("--alpha") { Description = "Opacity of the heat map in the overlays (0..1).", DefaultValueFactory = _ => 0.5 };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var skipExisting = new Option<bool>("--skip-existing") { Description = "Skip images whose <stem>.json already exists in --out (resume an interrupted run)." };
        var command = new Command("caption", "Caption images with a CNN-LSTM captioner and explain every word by CNN Fixations: " +
            "each word's logit is walked back through the LSTM to the image feature and down the CNN to the pixels.")
        {
            images, model, outDir, json, maxWords, beam, report, rules, contrast, gradCam, cellOnly, contributionShare, recursive, jobs, sigma, alpha, quiet, skipExisting,
        };
        command.SetAction(parse => new CaptionRun(
            parse.GetValue(images) ?? Array.Empty<string>(), parse.GetValue(model), parse.GetValue(outDir), parse.GetValue(json),
            parse.GetValue(maxWords), parse.GetValue(beam), parse.GetValue(report), parse.GetValue(rules) ?? "paper", parse.GetValue(contrast) ?? "softmax", parse.GetValue(gradCam), parse.GetValue(cellOnly), parse.GetValue(contributionShare), parse.GetValue(recursive), parse.GetValue(jobs),
            parse.GetValue(sigma), parse.GetValue(alpha), parse.GetValue(quiet), parse.GetValue(skipExisting), stdout, stderr).Execute());
        return command;
    }
}

internal sealed class CaptionRun(string[] images, string? modelArg, string? outDir, string? json, int maxWords, int beamWidth, bool report, string rules, string contrast, bool gradCam, bool cellOnly, double share,
    bool recursive, int jobs, double? sigma, double alpha, bool quiet, bool skipExisting, TextWriter stdout, TextWriter stderr)
{
    private readonly TextWriter _info = json == "-" ? stderr : stdout;
    private Captioner _captioner = null!;
    private Preprocessing _pre = Preprocessing.Torchvision;
    private int _h, _w;
    private MapOptions _maps = MapOptions.Default;

    public int Execute()
    {
        if (images.FirstOrDefault(i => i.StartsWith('-') && i.Length > 1) is { } unknown)
            throw new UsageException($"unknown option '{unknown}' (see 'cnn-fixations caption --help')");
        if (images.Length == 0) throw new UsageException("nothing to caption: give image files, folders or globs");
        if (maxWords < 1) throw new UsageException($"--max-words must be at least 1 (got {maxWords})");
        if (jobs < 1) throw new UsageException($"--jobs must be at least 1 (got {jobs})");
        if (beamWidth is < 1 or > 100) throw new UsageException($"--beam must be between 1 and 100 (got {beamWidth})");
        if (!(share > 0) || share > 1) throw new UsageException("--contribution-share must be in (0, 1]");
        if (sigma is { } sg && (!(sg > 0) || sg > 10000)) throw new UsageException("--sigma must be a positive number of pixels (at most 10000)");
        var family = rules switch
        {
            "weighted" => Unravel.RuleFamily.Weighted,
            "paper" => Unravel.RuleFamily.Paper,
            _ => throw new UsageException($"--rules must be 'paper' or 'weighted' (got '{rules}')"),
        };
        if (contrast is not ("softmax" or "none")) throw new UsageException($"--contrast must be 'softmax' or 'none' (got '{contrast}')");
        if (alpha is < 0 or > 1 || double.IsNaN(alpha)) throw new UsageException("--alpha must be between 0 and 1");
        if (report && outDir == null) throw new UsageException("--report needs --out (the page links the pictures written there)");
        if (skipExisting && outDir == null) throw new UsageException("--skip-existing needs --out (it skips images whose outputs exist there)");
        if (gradCam && outDir == null) throw new UsageException("--gradcam needs --out (it draws the Grad-CAM maps there)");
        _maps = family == Unravel.RuleFamily.Weighted
            ? MapOptions.Weighted with { Sigma = sigma ?? MapOptions.Weighted.Sigma }
            : MapOptions.Default with { Sigma = sigma ?? 20.0 };
        var files = InputFiles.Expand(images, recursive);
        bool batch = files.Count > 1 || images.Any(Directory.Exists) || images.Any(i => i.IndexOfAny(new[] { '*', '?' }) >= 0);

        var manifest = CaptionerManifest.Load(ResolveCaptioner(modelArg));
        int workers = Math.Clamp(jobs, 1, Math.Max(1, files.Count));
        using var captioner = new Captioner(manifest, family == Unravel.RuleFamily.Weighted ? Unravel.UnravelOptions.Default : Unravel.UnravelOptions.Paper, workers > 1 ? Math.Max(1, Environment.ProcessorCount / workers) : 0) { BeamWidth = beamWidth };
        _captioner = captioner;
        _pre = ModelDefaults.Preprocessing(captioner.Encoder);
        if (gradCam && captioner.SpatialFeature == null)
            throw new CnnFixationsException($"--gradcam needs the encoder's feature '{manifest.FeatureTensor}' to be a global average pooling of a spatial tensor");
        (_h, _w) = ModelDefaults.FixedInputSize(captioner.Encoder);
        if (outDir != null) Directory.CreateDirectory(outDir);
        if (json is { } jp && jp != "-" && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(jp))))
            throw new CnnFixationsException($"cannot write --json '{jp}': its folder does not exist");

        var outcomes = new ImageOutcome?[files.Count];
        var sw = Stopwatch.StartNew();
        using var cancel = new Interruption(stderr);
        try
        {
            using var progress = BatchProgress.Create(batch && !quiet, files.Count, _info);
            if (!batch) outcomes[0] = Process(files[0], !quiet);
            else Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = workers }, (i, state) =>
            {
                if (cancel.Requested) { state.Stop(); return; }
                outcomes[i] = Process(files[i], false);
                progress.Report(outcomes[i]!);
            });
        }
        finally
        {
            cancel.Detach();
        }
        var done = outcomes.Where(o => o != null).Select(o => o!).ToList();
        if (outDir != null && batch)
        {
            AtomicFile.Write(Path.Combine(outDir, "results.jsonl"), stream =>
            {
                foreach (var o in done)
                {
                    if (o.Error != null) stream.Write(Serialize(w => { w.WriteStartObject(); w.WriteString("image", o.File.Path); w.WriteString("error", o.Error); w.WriteEndObject(); }));
                    else foreach (var d in o.Documents) stream.Write(d);
                }
            });
        }
        if (outDir != null && report)
        {
            var entries = done.Select(o => new Reporting.ReportEntry(o.File.Path,
                o.OverlayFiles.Count > 0 ? Path.GetRelativePath(outDir, o.OverlayFiles[0]) : null,
                o.DocumentFiles.Count > 0 ? Path.GetRelativePath(outDir, o.DocumentFiles[0]) : null,
                o.Predictions, o.Box, o.Error)).ToList();
            string page = Reporting.HtmlReport.Write(outDir, entries, $"CNN Fixations captions: {Path.GetFileName(Path.GetDirectoryName(manifest.Path))}");
            if (!quiet) _info.WriteLine($"wrote {page}");
        }
        if (json != null)
        {
            // JSON Lines, as explain writes: one document per line, in input order (a single image: one line).
            var docs = done.Where(o => o.Error == null).SelectMany(o => o.Documents).ToList();
            byte[] bytes = docs.SelectMany(d => d).ToArray();
            if (json == "-") { stdout.Write(Encoding.UTF8.GetString(bytes)); stdout.Flush(); }
            else AtomicFile.WriteAllBytes(json, bytes);
        }
        int failed = done.Count(o => o.Error != null);
        if (!batch)
        {
            if (done.Count == 1 && done[0].Error is { } error) throw new CnnFixationsException(error);
        }
        else if (!quiet || failed > 0 || cancel.Requested)
        {
            _info.WriteLine($"{done.Count - failed} of {files.Count} images captioned, {failed} failed, {done.Count(o => o.Skipped)} skipped as done, {sw.Elapsed.TotalSeconds:F1} s" +
                            (cancel.Requested ? $"; interrupted, {files.Count - done.Count} not started" : ""));
            foreach (var o in done.Where(o => o.Error != null)) stderr.WriteLine($"error: {o.File.Path}: {o.Error}");
        }
        if (cancel.Requested) return 130;
        return failed > 0 ? CliApp.Failure : CliApp.Ok;
    }

    private ImageOutcome Process(InputFile file, bool verbose)
    {
        var outcome = new ImageOutcome { File = file };
        try
        {
            string done = outDir == null ? "" : Path.Combine(outDir, file.OutputStem) + ".json";
            if (skipExisting && File.Exists(done))
            {
                outcome.Skipped = true;
                var bytes = File.ReadAllBytes(done);
                outcome.Documents.Add(bytes);
                outcome.DocumentFiles.Add(done);
                try
                {
                    using var existing = JsonDocument.Parse(bytes);
                    string caption = existing.RootElement.GetProperty("caption").GetString() ?? "";
                    outcome.Predictions = new[] { new Prediction(-1, caption, 0) };
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new CnnFixationsException($"existing result '{done}' is unreadable ({e.Message}); delete it to caption the image again");
                }
                if (File.Exists(Path.Combine(outDir!, file.OutputStem) + ".caption.png")) outcome.OverlayFiles.Add(Path.Combine(outDir!, file.OutputStem) + ".caption.png");
                return outcome;
            }
            var sw = Stopwatch.StartNew();
            var input = ExplanationInput.FromImage(file.Path, _pre, _h, _w);
            var result = _captioner.Caption(input, maxWords, new CaptionWalkOptions { CellPathOnly = cellOnly, ContributionShare = share, Contrast = contrast == "softmax" }, gradCam);
            var maps = result.Words.Select(w => w.Explanation != null ? FixationMap.Build(w.Explanation, input, _maps) : FixationMap.Build(w.InputFixations, input, _maps)).ToList();
            var doc = Serialize(w => WriteDocument(w, input, result, maps, sw.Elapsed.TotalMilliseconds));
            outcome.Documents.Add(doc);
            outcome.Predictions = new[] { new Prediction(-1, result.Caption, result.Words.Count == 0 ? 0 : result.Words.Average(x => x.Probability)) };
            if (verbose)
            {
                _info.WriteLine($"{file.Path}\n  caption: \"{result.Caption}\"");
                for (int i = 0; i < result.Words.Count; i++)
                    _info.WriteLine($"  {i + 1,2}. {result.Words[i].Word,-12} p={result.Words[i].Probability.ToString("F3", CultureInfo.InvariantCulture)}  " +
                                    $"{result.Words[i].Decoder.FeatureDims.Length} feature dims, {maps[i].KeptPoints.Count}/{maps[i].Points.Count} points kept, box {(maps[i].Box == null ? "none" : $"[{string.Join(", ", maps[i].Box!)}]")}");
            }
            if (outDir != null)
            {
                string stem = Path.Combine(outDir, file.OutputStem);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(stem))!);
                var background = input.Image!;
                var panels = new List<(string, byte[])>();
                for (int i = 0; i < result.Words.Count; i++)
                {
                    var png = MapImages.OverlayPng(background, maps[i].Heat, maps[i].Box, result.Words[i].Explanation != null ? Array.Empty<(int, int)>() : maps[i].Points, alpha);
                    AtomicFile.WriteAllBytes($"{stem}.word{i + 1:D2}.overlay.png", png);
                    panels.Add((result.Words[i].Word, png));
                    if (result.Words[i].GradCam is { } cam)
                    {
                        var camPng = MapImages.OverlayPng(background, cam.Heat, null, Array.Empty<(int, int)>(), alpha);
                        AtomicFile.WriteAllBytes($"{stem}.word{i + 1:D2}.gradcam.png", camPng);
                        panels.Add((result.Words[i].Word + " (Grad-CAM)", camPng));
                    }
                }
                if (panels.Count > 0)
                {
                    AtomicFile.WriteAllBytes(stem + ".caption.png", LayerSheet.MethodsPng(background, panels, 240));
                    outcome.OverlayFiles.Add(stem + ".caption.png");
                }
                AtomicFile.WriteAllBytes(stem + ".json", doc); // last: marks the image as done
                outcome.DocumentFiles.Add(stem + ".json");
                if (verbose) _info.WriteLine($"  wrote {stem}.json, {stem}.caption.png and {result.Words.Count} word overlays{(gradCam ? " with their Grad-CAM maps" : "")}");
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

    private void WriteDocument(Utf8JsonWriter w, ExplanationInput input, CaptionResult result, IReadOnlyList<FixationMap> maps, double totalMs)
    {
        var m = _captioner.Manifest;
        w.WriteStartObject();
        w.WriteString("image", input.ImagePath);
        w.WriteNumber("width", input.Width);
        w.WriteNumber("height", input.Height);
        w.WriteString("captioner", Path.GetFileName(Path.GetDirectoryName(m.Path)));
        w.WriteString("encoderSha256", _captioner.Encoder.Sha256);
        w.WriteString("featureTensor", m.FeatureTensor);
        w.WriteString("imageEntry", m.Entry == ImageEntry.FirstStep ? "first-step" : "initial-state");
        w.WriteNumber("beam", beamWidth);
        w.WriteString("rules", rules);
        if (rules == "weighted") w.WriteString("contrast", contrast);
        w.WriteString("walk", cellOnly ? "cell-path-only" : "full");
        w.WriteNumber("contributionShare", share);
        w.WriteString("caption", result.Caption);
        w.WriteStartArray("words");
        for (int i = 0; i < result.Words.Count; i++)
        {
            var word = result.Words[i];
            var map = maps[i];
            w.WriteStartObject();
            w.WriteString("word", word.Word);
            w.WriteNumber("token", word.Token);
            w.WriteNumber("probability", Math.Round(word.Probability, 6));
            if (word.Weights is { } dw) w.WriteNumber("imageShare", Math.Round(dw.ImageShare, 6));
            w.WriteStartArray("hiddenUnits");
            foreach (int k in word.Decoder.HiddenUnits) w.WriteNumberValue(k);
            w.WriteEndArray();
            w.WriteStartArray("featureDims");
            foreach (int k in word.Decoder.FeatureDims) w.WriteNumberValue(k);
            w.WriteEndArray();
            w.WriteNumber("inputFixations", word.InputFixations.Count);
            ExplanationJson.WritePoints(w, "points", map.Points);
            ExplanationJson.WritePoints(w, "keptPoints", map.KeptPoints);
            if (map.Box == null) w.WriteNull("box");
            else
            {
                w.WriteStartArray("box");
                foreach (int v in map.Box) w.WriteNumberValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("timings");
        w.WriteNumber("forwardMs", Math.Round(result.ForwardMs, 3));
        w.WriteNumber("walkMs", Math.Round(result.WalkMs, 3));
        w.WriteNumber("totalMs", Math.Round(totalMs, 3));
        w.WriteEndObject();
        w.WriteEndObject();
    }


    /// <summary>The given folder or manifest, or the bundled demonstration captioner beside the program or under the current folder.</summary>
    private static string ResolveCaptioner(string? model)
    {
        if (model != null) return model;
        foreach (var dir in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            string path = Path.Combine(dir, "models", DemoCaptioner.Folder, CaptionerManifest.FileName);
            if (File.Exists(path)) return path;
        }
        throw new CnnFixationsException($"no --model given, and the bundled captioner models/{DemoCaptioner.Folder}/ is not beside the program or in the current folder");
    }

    private static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(w);
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }
}
