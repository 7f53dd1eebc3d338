using System.CommandLine;
using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;

namespace CnnFixations.Cli;

/// <summary>
/// <c>cnn-fixations collages</c> (hidden; for tools/train_demo_captioner.py and tools/caption_grounding.py):
/// composes 2x2 collages from a list (one line per collage, four tab-separated image paths, '-' for an
/// empty tile), writes them as PNG and/or the encoder's feature vector of each as one [N,F] .npy.
/// </summary>
internal static class CollagesCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var list = new Argument<string>("list") { Description = "Collage list: four tab-separated image paths per line, '-' for an empty grey tile." };
        var model = new Option<string?>("--model", "-m") { Description = "Encoder ONNX (default: the bundled MobileNetV2)." };
        var feature = new Option<string>("--feature") { Description = "The encoder's feature tensor.", DefaultValueFactory = _ => DemoCaptioner.FeatureTensor };
        var features = new Option<string?>("--features") { Description = "Write the feature vectors as a float32 [N,F] .npy." };
        var pngDir = new Option<string?>("--png-dir") { Description = "Write collage i as NNNNNN.png in this folder." };
        var command = new Command("collages", "Compose 2x2 collages and extract encoder features (tooling for the demo captioner).") { Hidden = true };
        command.Arguments.Add(list);
        command.Options.Add(model);
        command.Options.Add(feature);
        command.Options.Add(features);
        command.Options.Add(pngDir);
        command.SetAction(parse =>
        {
            string listPath = parse.GetValue(list)!;
            if (!File.Exists(listPath)) throw new CnnFixationsException($"collage list '{listPath}' does not exist");
            var lines = File.ReadAllLines(listPath).Where(l => l.Trim().Length > 0).ToList();
            string? npy = parse.GetValue(features), png = parse.GetValue(pngDir);
            if (npy == null && png == null) throw new UsageException("give --features FILE.npy and/or --png-dir DIR");
            if (png != null) Directory.CreateDirectory(png);
            Explainer? explainer = null;
            Preprocessing pre = Preprocessing.Torchvision;
            int h = 0, w = 0;
            string featureName = parse.GetValue(feature)!;
            if (npy != null)
            {
                var onnx = OnnxModel.Load(ModelDefaults.ResolveModelPath(parse.GetValue(model)));
                if (!onnx.IsKnownTensor(featureName)) throw new CnnFixationsException($"the encoder has no tensor '{featureName}'");
                explainer = new Explainer(onnx, CnnFixations.Unravel.UnravelOptions.Paper, null, 0, featureName);
                pre = ModelDefaults.Preprocessing(onnx);
                (h, w) = ModelDefaults.FixedInputSize(onnx);
            }
            var cache = new Dictionary<string, RgbImage>(StringComparer.Ordinal);
            var rows = new float[lines.Count][];
            try
            {
                Parallel.For(0, lines.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
                {
                    var parts = lines[i].Split('\t');
                    if (parts.Length != 4) throw new CnnFixationsException($"{listPath}:{i + 1}: four tab-separated tiles expected");
                    var tiles = parts.Select(p =>
                    {
                        if (p == "-") return null;
                        lock (cache)
                            if (cache.TryGetValue(p, out var img)) return img;
                        var loaded = ImageLoader.Load(p);
                        lock (cache) cache[p] = loaded;
                        return loaded;
                    }).ToArray();
                    var collage = Collage.Compose(tiles);
                    if (png != null) AtomicFile.WriteAllBytes(Path.Combine(png, $"{i:D6}.png"), MapImages.EncodePng(collage));
                    if (explainer != null)
                    {
                        var input = ExplanationInput.FromImage(null, collage, pre, h, w);
                        using var forward = explainer.Forward(input.Tensor);
                        rows[i] = (float[])forward[featureName].Data.Clone();
                    }
                });
                if (npy != null)
                {
                    int f = rows[0].Length;
                    var all = new float[lines.Count * f];
                    for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(all, i * f);
                    AtomicFile.Write(npy, s => NpyFile.WriteFloat32(s, new[] { lines.Count, f }, all));
                }
            }
            catch (AggregateException e) when (e.InnerException is CnnFixationsException inner)
            {
                throw inner;
            }
            finally
            {
                explainer?.Dispose();
            }
            stdout.WriteLine($"{lines.Count} collages{(npy != null ? $", features in {npy}" : "")}{(png != null ? $", pictures in {png}" : "")}");
            return CliApp.Ok;
        });
        return command;
    }
}
