using System.Diagnostics;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;

namespace CnnFixations.Bench;

/// <summary>
/// Throughput over a folder of images, all cores busy: plain inference (decode, resize, one ONNX Runtime
/// run per image) against the whole explanation (the same, plus the walk, the maps and the two PNG
/// pictures' encoding, without writing files), both with one image per core in flight. With a count, the
/// folder's images are cycled to that many (peak memory must not grow with it).
/// </summary>
internal static class BatchBench
{
    public static void Run(string modelPath, string folder, int count = 0)
    {
        var files = Directory.GetFiles(folder).Where(f => InputExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new ArgumentException($"no images in {folder}");
        if (count > 0) files = Enumerable.Range(0, count).Select(i => files[i % files.Count]).ToList();
        var model = OnnxModel.Load(modelPath);
        int jobs = Environment.ProcessorCount;
        var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
        int h = model.InputShape[2], w = model.InputShape[3];
        using var explainer = new Explainer(model, intraOpThreads: 1);
        explainer.WaitForBackgroundWork();
        using var plain = new ModelSession(model, Array.Empty<string>(), intraOpThreads: 1);
        var logits = new[] { explainer.LogitsTensor };
        var options = new ParallelOptions { MaxDegreeOfParallelism = jobs };

        double Measure(Action<string> perImage)
        {
            perImage(files[0]); // warm-up
            var sw = Stopwatch.StartNew();
            Parallel.ForEach(files, options, perImage);
            return files.Count / sw.Elapsed.TotalSeconds;
        }

        double inference = Measure(f =>
        {
            var input = ExplanationInput.FromImage(f, pre, h, w);
            plain.Run(input.Tensor, logits);
        });
        double explain = Measure(f =>
        {
            var input = ExplanationInput.FromImage(f, pre, h, w);
            var e = explainer.Explain(input.Tensor);
            var map = FixationMap.Build(e.Fixations.Input, input);
            MapImages.OverlayPng(input.Image!, map.Heat, map.Box, map.Points);
            MapImages.GrayPng(map.Heat, map.Width, map.Height);
        });
        Console.WriteLine($"{files.Count} images, {jobs} at once: plain inference {inference:F2} img/s, explain {explain:F2} img/s, ratio {explain / inference:F2}; peak {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
    }

    private static readonly string[] InputExtensions = { ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif" };
}
