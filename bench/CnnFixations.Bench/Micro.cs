using System.Diagnostics;

namespace CnnFixations.Bench;

/// <summary>Quick timings of single kernels (dotnet run -c Release --project bench/CnnFixations.Bench -- --micro).</summary>
internal static class Micro
{
    public static void Run()
    {
        var random = new Random(1);
        int c = 256, p = 56 * 56;
        var a = new float[c * p];
        for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextDouble();
        var hwc = new float[a.Length];
        Time("channel-last 256x56x56", () => CnnFixations.Unravel.Rules.Contributions.ChannelLast(a, c, p, hwc));
        var img = CnnFixations.Imaging.ImageLoader.Load(Path.Combine(BenchArguments.Parse(Array.Empty<string>()).Image));
        var pts = Enumerable.Range(0, 60).Select(i => (random.Next(img.Width), random.Next(img.Height))).ToList();
        var heat = CnnFixations.Maps.HeatMap.FromPoints(pts, img.Width, img.Height);
        Console.WriteLine($"image {img.Width}x{img.Height}");
        Time("heat map 60 points", () => CnnFixations.Maps.HeatMap.FromPoints(pts, img.Width, img.Height));
        foreach (var level in new[] { 1, 2, 3, 6 })
            foreach (var filter in new[] { SkiaSharp.SKPngEncoderFilterFlags.NoFilters, SkiaSharp.SKPngEncoderFilterFlags.Sub, SkiaSharp.SKPngEncoderFilterFlags.Up, SkiaSharp.SKPngEncoderFilterFlags.AllFilters })
            {
                using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(img.Width, img.Height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque));
                var rgba = bitmap.GetPixelSpan();
                for (int i = 0; i < img.Width * img.Height; i++) { rgba[4 * i] = img.Pixels[3 * i]; rgba[4 * i + 1] = (byte)(heat[i] * 255); rgba[4 * i + 2] = img.Pixels[3 * i + 2]; rgba[4 * i + 3] = 255; }
                using var pixmap = bitmap.PeekPixels();
                int size = 0;
                Time($"encode level {level} {filter}", () => { using var d = pixmap.Encode(new SkiaSharp.SKPngEncoderOptions(filter, level)); size = (int)(d?.Size ?? 0); });
                Console.WriteLine($"   {size / 1024} KB");
            }
        var raw = new byte[img.Height * (img.Width * 3 + 1)];
        for (int y = 0; y < img.Height; y++)
        {
            raw[y * (img.Width * 3 + 1)] = 2; // Up
            for (int x = 0; x < img.Width * 3; x++)
            {
                int i = y * img.Width * 3 + x;
                byte v = (x % 3 == 1) ? (byte)(heat[i / 3] * 255) : img.Pixels[i];
                byte up = 0;
                if (y > 0) { int j = i - img.Width * 3; up = (x % 3 == 1) ? (byte)(heat[j / 3] * 255) : img.Pixels[j]; }
                raw[y * (img.Width * 3 + 1) + 1 + x] = (byte)(v - up);
            }
        }
        foreach (var level in new[] { 1, 2, 3, 4, 6 })
        {
            int size = 0;
            Time($"zlib {level}", () =>
            {
                var ms = new MemoryStream();
                using (var z = new System.IO.Compression.ZLibStream(ms, new System.IO.Compression.ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true)) z.Write(raw);
                size = (int)ms.Length;
            });
            Console.WriteLine($"   {size / 1024} KB");
        }
        Time("overlay png 512x341", () => CnnFixations.Maps.MapImages.OverlayPng(img, heat, null, Array.Empty<(int, int)>()));
        Time("gray png 512x341", () => CnnFixations.Maps.MapImages.GrayPng(heat, 512, 341));
    }

    public static void Load(string path)
    {
        for (int round = 0; round < 2; round++)
        {
            var sw = Stopwatch.StartNew();
            var bytes = File.ReadAllBytes(path);
            double read = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var proto = CnnFixations.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes);
            double parse = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            System.Security.Cryptography.SHA256.HashData(bytes);
            double sha = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            using (var s1 = new Microsoft.ML.OnnxRuntime.InferenceSession(path)) { }
            double ortPath = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            using (var s2 = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes)) { }
            double ortBytes = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var model = CnnFixations.Onnx.OnnxModel.Load(path);
            double load = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            string[] fetch;
            using (var e = new CnnFixations.Explainer(model)) { fetch = e.FetchedTensors.ToArray(); }
            double explainer = sw.Elapsed.TotalMilliseconds;
            var withOutputs = model.SerializeWithOutputs(fetch);
            sw.Restart();
            using (var s3 = new Microsoft.ML.OnnxRuntime.InferenceSession(withOutputs)) { }
            Console.WriteLine($"ORT(bytes + {fetch.Length} outputs) {sw.Elapsed.TotalMilliseconds:F0} ms");
            sw.Restart();
            using (var s4 = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes)) { }
            Console.WriteLine($"ORT(bytes) again {sw.Elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine($"read {read:F0} parse {parse:F0} sha {sha:F0} | ORT(path) {ortPath:F0} ORT(bytes) {ortBytes:F0} | OnnxModel.Load {load:F0} Explainer {explainer:F0} ms");
            GC.KeepAlive(proto);
        }
    }

    /// <summary>What the extra outputs cost, by the kind of node that produces them.</summary>
    public static void Outputs(string path)
    {
        var model = CnnFixations.Onnx.OnnxModel.Load(path);
        using var explainer = new CnnFixations.Explainer(model);
        var fetched = explainer.FetchedTensors.Where(t => t != explainer.LogitsTensor).ToList();
        var pre = CnnFixations.Imaging.Preprocessing.FromMetadata(model.Metadata) ?? CnnFixations.Imaging.Preprocessing.Torchvision;
        var input = CnnFixations.ExplanationInput.FromImage(BenchArguments.Parse(Array.Empty<string>()).Image, pre, model.InputShape[2], model.InputShape[3]);
        var shapes = CnnFixations.Onnx.ShapeInference.Infer(model, model.InputShape);
        var groups = fetched.GroupBy(t => (model.Producer(t)?.OpType ?? "?") + "->" + string.Join("+", model.Consumers(t).Select(c => c.Node.OpType).Distinct().Order())).ToList();
        foreach (var g in groups)
            Console.WriteLine($"{g.Key}: {g.Count()} tensors, {g.Sum(t => CnnFixations.Onnx.Shapes.ElementCount(shapes[t])) * 4 / 1e6:F1} MB");
        var logits = new[] { explainer.LogitsTensor };
        void Measure(string label, IEnumerable<string> extra)
        {
            var list = extra.ToArray();
            using var session = new CnnFixations.Inference.ModelSession(model, list);
            var fetch = list.Append(explainer.LogitsTensor).ToArray();
            var buffers = new float[fetch.Length][];
            Time($"{label} ({list.Length})", () => session.Run(input.Tensor, fetch, shapes, buffers));
        }
        Measure("none", Array.Empty<string>());
        Measure("all", fetched);
        foreach (var g in groups) Measure(g.Key, g);
    }

    public static void Gradient(string path)
    {
        var model = CnnFixations.Onnx.OnnxModel.Load(path);
        using var explainer = new CnnFixations.Explainer(model);
        var pre = CnnFixations.Imaging.Preprocessing.FromMetadata(model.Metadata) ?? CnnFixations.Imaging.Preprocessing.Torchvision;
        var input = CnnFixations.ExplanationInput.FromImage(BenchArguments.Parse(Array.Empty<string>()).Image, pre, model.InputShape[2], model.InputShape[3]);
        int top = CnnFixations.Explainer.TopClasses(explainer.Explain(input.Tensor).Logits, 1)[0];
        var first = new CnnFixations.Baselines.GradCamMethod();
        Time($"grad-cam first, class {top}", () => first.Compute(explainer, input, top));
        Time("grad-cam first, class 1", () => first.Compute(explainer, input, 1));
        using var source = new CnnFixations.Baselines.GradientSource(model, explainer.LogitsTensor, input.Tensor.Shape);
        Console.WriteLine($"graph: {source.UsesGraph} {source.FallbackReason}");
        Time("gradient", () => source.Compute(input.Tensor, 1).Dispose());
        using var plain = new CnnFixations.Inference.ModelSession(model, Array.Empty<string>());
        Time("forward", () => plain.Run(input.Tensor, new[] { explainer.LogitsTensor }));
        var gradcam = new CnnFixations.Baselines.GradCamMethod();
        Time("grad-cam (whole)", () => gradcam.Compute(explainer, input, 1));
        string? layer = CnnFixations.Baselines.ClassifierStructure.LastSpatialTensor(model, explainer.LogitsTensor, explainer.TensorShape);
        using var camSource = new CnnFixations.Baselines.GradientSource(model, explainer.LogitsTensor, input.Tensor.Shape, layer);
        Time($"grad-cam source ({layer}, graph {camSource.UsesGraph})", () => camSource.Compute(input.Tensor, 1).Dispose());
        var grid = new float[49];
        Time("to image 7x7", () => CnnFixations.Baselines.SaliencyUpsampler.ToImage(grid, 7, 7, input));
    }

    private static void Time(string what, Action action)
    {
        for (int i = 0; i < 3; i++) action();
        var times = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"{what,-30} min {times[0]:F3} ms, median {times[10]:F3} ms");
    }
}
