using System.Diagnostics;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;

namespace CnnFixations.Bench;

/// <summary>Median and spread of one measured step, in milliseconds.</summary>
internal sealed record Timing(double MedianMs, double MinMs, double MaxMs)
{
    public static Timing Measure(int warmup, int iterations, Action action)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        double median = iterations % 2 == 1 ? times[iterations / 2] : (times[iterations / 2 - 1] + times[iterations / 2]) / 2;
        return new Timing(median, times[0], times[^1]);
    }
}

internal sealed record ModelFigures
{
    public string Model { get; init; } = "";
    public string Input { get; init; } = "";
    public int Iterations { get; init; }
    public double OrtSessionMs { get; init; }
    public double LoadMs { get; init; }
    public Timing? ForwardOnly { get; init; }
    public Timing? ForwardWithOutputs { get; init; }
    public Timing? Walk { get; init; }
    public Timing? Postprocess { get; init; }
    public Timing? Encode { get; init; }
    public Timing? Explain { get; init; }
    public Timing? ExplainWithoutPng { get; init; }
    public Timing? GradCam { get; init; }
    /// <summary>The paper's literal rules (--rules paper): the walk alone, and the whole explanation as "explain" does it.</summary>
    public Timing? PaperWalk { get; init; }
    /// <summary>The default (weighted) walk and explanation with the managed engine (<c>--walk-engine managed</c>), for comparison.</summary>
    public Timing? ManagedWalk { get; init; }
    public Timing? ManagedExplain { get; init; }
    public Timing? PaperExplain { get; init; }
    public Timing? Gradient { get; init; }
    public int ExtraOutputs { get; init; }
    public int Fixations { get; init; }
    public Dictionary<string, int> LayerFixations { get; init; } = new();
    public double PeakMb { get; init; }

    public Dictionary<string, object> ToJsonFigures()
    {
        var d = new Dictionary<string, object>();
        void Add(string name, Timing? t) { if (t != null) d[name] = Math.Round(t.MedianMs, 3); }
        Add("forwardOnlyMs", ForwardOnly);
        Add("forwardWithOutputsMs", ForwardWithOutputs);
        Add("walkMs", Walk);
        Add("postprocessMs", Postprocess);
        Add("pngMs", Encode);
        Add("explainMs", Explain);
        Add("paperWalkMs", PaperWalk);
        Add("managedWalkMs", ManagedWalk);
        Add("managedExplainMs", ManagedExplain);
        Add("paperExplainMs", PaperExplain);
        Add("explainWithoutPngMs", ExplainWithoutPng);
        Add("gradcamMs", GradCam);
        Add("gradientMs", Gradient);
        d["fixations"] = Fixations;
        d["peakMb"] = Math.Round(PeakMb, 1);
        d["loadMs"] = Math.Round(LoadMs, 1);
        d["ortSessionMs"] = Math.Round(OrtSessionMs, 1);
        d["extraOutputs"] = ExtraOutputs;
        return d;
    }
}

/// <summary>Measures one model: plain ONNX Runtime forward, forward with the walk's outputs, the walk, post-processing, the whole explanation.</summary>
internal static class ModelBench
{
    public static ModelFigures Run(string modelPath, int iterations, string imagePath)
    {
        // Start-up: ONNX Runtime's own session creation from the file, then the product's load (parse + session).
        var swOrt = Stopwatch.StartNew();
        using (var plainSession = new Microsoft.ML.OnnxRuntime.InferenceSession(modelPath)) { }
        double ortSessionMs = swOrt.Elapsed.TotalMilliseconds;

        var swLoad = Stopwatch.StartNew();
        var model = OnnxModel.Load(modelPath);
        using var explainer = new Explainer(model);
        double loadMs = swLoad.Elapsed.TotalMilliseconds;
        explainer.WaitForBackgroundWork(); // the walk graph is built and warmed on another core: nothing is timed meanwhile

        using var plain = new ModelSession(model, Array.Empty<string>());
        var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
        var input = ExplanationInput.FromImage(imagePath, pre, model.InputShape[2], model.InputShape[3]);
        var logitsOnly = new[] { explainer.LogitsTensor };

        var forwardOnly = Timing.Measure(2, iterations, () => plain.Run(input.Tensor, logitsOnly));
        CnnFixations.Inference.ForwardPass? forward = null;
        var forwardWithOutputs = Timing.Measure(2, iterations, () =>
        {
            forward?.Dispose();
            forward = explainer.Forward(input.Tensor);
        });
        int target = Explainer.TopClasses(forward![explainer.LogitsTensor].Data, 1)[0];
        TensorExplanation? explanation = null;
        var walk = Timing.Measure(2, iterations, () => explanation = explainer.Unravel(forward!, target));
        var postprocess = Timing.Measure(2, iterations, () => Postprocess(explanation!, input).Overlay.Dispose());
        var pictures = Postprocess(explanation!, input);
        var encode = Timing.Measure(2, iterations, () => Encode(pictures));
        pictures.Overlay.Dispose();
        var explain = Timing.Measure(2, iterations, () =>
        {
            var p = Postprocess(explainer.Explain(input.Tensor), input);
            Encode(p);
            p.Overlay.Dispose();
        });
        var explainPixels = Timing.Measure(2, iterations, () => Postprocess(explainer.Explain(input.Tensor), input).Overlay.Dispose());
        Timing? paperWalk, paperExplain;
        using (var paper = new Explainer(model, CnnFixations.Unravel.UnravelOptions.Paper))
        {
            using var paperForward = paper.Forward(input.Tensor);
            paperWalk = Timing.Measure(2, iterations, () => paper.Unravel(paperForward, target));
            paperExplain = Timing.Measure(2, iterations, () =>
            {
                var p = Postprocess(paper.Explain(input.Tensor), input);
                Encode(p);
                p.Overlay.Dispose();
            });
        }
        Timing? managedWalk, managedExplain;
        using (var managed = new Explainer(model, CnnFixations.Unravel.UnravelOptions.Default with { WalkEngine = CnnFixations.Unravel.WalkEngine.Managed }))
        {
            using var managedForward = managed.Forward(input.Tensor);
            int slow = Math.Min(iterations, 5); // the managed walk takes seconds on the large models
            managedWalk = Timing.Measure(1, slow, () => managed.Unravel(managedForward, target));
            managedExplain = Timing.Measure(1, slow, () =>
            {
                var p = Postprocess(managed.Explain(input.Tensor), input);
                Encode(p);
                p.Overlay.Dispose();
            });
        }
        Timing? gradcam = null, gradient = null;
        var gradcamMethod = new CnnFixations.Baselines.GradCamMethod();
        if (gradcamMethod.NotApplicable(explainer) == null)
            gradcam = Timing.Measure(2, iterations, () => gradcamMethod.Compute(explainer, input, target));
        var gradientMethod = new CnnFixations.Baselines.GradientMethod();
        gradient = Timing.Measure(2, iterations, () => gradientMethod.Compute(explainer, input, target));

        return new ModelFigures
        {
            Model = Path.GetFileName(modelPath),
            Input = $"{model.InputShape[2]}x{model.InputShape[3]}",
            Iterations = iterations,
            OrtSessionMs = ortSessionMs,
            LoadMs = loadMs,
            ForwardOnly = forwardOnly,
            ForwardWithOutputs = forwardWithOutputs,
            Walk = walk,
            Postprocess = postprocess,
            Encode = encode,
            Explain = explain,
            ExplainWithoutPng = explainPixels,
            GradCam = gradcam,
            PaperWalk = paperWalk,
            PaperExplain = paperExplain,
            ManagedWalk = managedWalk,
            ManagedExplain = managedExplain,
            Gradient = gradient,
            ExtraOutputs = explainer.FetchedTensorCount,
            Fixations = explanation!.Fixations.Input.Count,
            LayerFixations = explanation.Fixations.Layers.ToDictionary(l => l.Tensor, l => l.Count),
            PeakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1e6,
        };
    }

    public static void Profile(string modelPath, int iterations)
    {
        var model = OnnxModel.Load(modelPath);
        // CNNFIX_REFERENCE_CONV=1: the weighted Conv rule in its plain loops (the code before the vector kernels), for comparison.
        CnnFixations.Unravel.PositiveShares.ReferenceConv = Environment.GetEnvironmentVariable("CNNFIX_REFERENCE_CONV") == "1";
        using var explainer = new Explainer(model);
        explainer.WaitForBackgroundWork();
        var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
        var input = ExplanationInput.FromImage(BenchArguments.Parse(Array.Empty<string>()).Image, pre, model.InputShape[2], model.InputShape[3]);
        using var forward = explainer.Forward(input.Tensor);
        int target = Explainer.TopClasses(forward[explainer.LogitsTensor].Data, 1)[0];
        var runs = new List<TensorExplanation>();
        for (int i = 0; i < 2; i++) explainer.Unravel(forward, target);
        int[] gc = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        long allocated = GC.GetTotalAllocatedBytes();
        double cpu0 = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
        for (int i = 0; i < iterations; i++) runs.Add(explainer.Unravel(forward, target));
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds - cpu0) / iterations;
        runs = runs.OrderBy(r => r.UnravelMs).ToList();
        var median = runs[runs.Count / 2];
        double rules = median.Fixations.RuleMilliseconds.Values.Sum();
        Console.WriteLine($"{Path.GetFileName(modelPath)}: unravel median {median.UnravelMs:F2} ms (min {runs[0].UnravelMs:F2}, cpu {cpu:F2}), rules {rules:F2} ms, other {median.UnravelMs - rules:F2} ms; " +
            $"per walk {(GC.GetTotalAllocatedBytes() - allocated) / iterations / 1e6:F2} MB allocated, GCs {GC.CollectionCount(0) - gc[0]}/{GC.CollectionCount(1) - gc[1]}/{GC.CollectionCount(2) - gc[2]}");
        Console.WriteLine($"  bitsets {median.Fixations.Layers.Sum(l => (long)l.Length) / 8 / 1e6:F2} MB over {median.Fixations.Layers.Count} sets");
        foreach (var (rule, ms) in median.Fixations.RuleMilliseconds.OrderByDescending(r => r.Value)) Console.WriteLine($"  {rule,-22} {ms,8:F2}");
        if (median.Weights is { } weighted)
        {
            // The weighted walk (the default rules): time per op type and the slowest nodes.
            Console.WriteLine($"  weighted walk, nodes {weighted.NodeMilliseconds.Sum(n => n.Ms):F2} ms, other {median.UnravelMs - weighted.NodeMilliseconds.Sum(n => n.Ms):F2} ms");
            foreach (var group in weighted.NodeMilliseconds.GroupBy(n => n.Node.Split(' ')[0]).OrderByDescending(g => g.Sum(n => n.Ms)))
                Console.WriteLine($"  {group.Key,-22} {group.Sum(n => n.Ms),8:F2}  ({group.Count()} nodes)");
            // Per node: the fastest of the runs (the machine may be shared), the 16 slowest nodes.
            var fastest = runs.SelectMany(r => r.Weights!.NodeMilliseconds.Select((n, i) => (i, n.Node, n.Ms))).GroupBy(n => (n.i, n.Node))
                .Select(g => (g.Key.Node, Ms: g.Min(n => n.Ms))).ToList();
            Console.WriteLine($"  fastest per node: sum {fastest.Sum(n => n.Ms):F2} ms");
            foreach (var group in fastest.GroupBy(n => n.Node.Split(' ')[0]).OrderByDescending(g => g.Sum(n => n.Ms)))
                Console.WriteLine($"  {group.Key,-22} {group.Sum(n => n.Ms),8:F2}  ({group.Count()} nodes)");
            foreach (var (node, ms) in fastest.OrderByDescending(n => n.Ms).Take(16)) Console.WriteLine($"  {ms,8:F3}  {node}");
        }
        var best = runs[0];
        double convMacs = 0, convMs = 0;
        foreach (var (node, ms) in best.Fixations.NodeMilliseconds)
        {
            var parts = node.Split(' ');
            if (parts[0] != "Conv") continue;
            var n = model.Nodes.First(g => g.Name == parts[1]);
            var wShape = model.ConstantShape(n.Inputs[1])!;
            int outCount = int.Parse(parts[2].TrimStart('('), System.Globalization.CultureInfo.InvariantCulture);
            convMacs += (double)outCount * wShape[1] * wShape[2] * wShape[3];
            convMs += ms;
        }
        Console.WriteLine($"  fastest walk {best.UnravelMs:F2} ms: Conv rules {convMs:F2} ms for {convMacs / 1e6:F2} M products ({convMacs / convMs / 1e6:F2} G/s)");
        foreach (var (node, ms) in best.Fixations.NodeMilliseconds.OrderByDescending(n => n.Ms).Take(8)) Console.WriteLine($"  {ms,8:F3}  {node}");
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            var p = Postprocess(median, input);
            Encode(p);
            p.Overlay.Dispose();
        }
        Console.WriteLine($"  postprocess {sw.Elapsed.TotalMilliseconds / iterations:F2} ms");
        var map = FixationMap.Build(median.Fixations.Input, input);
        sw.Restart();
        for (int i = 0; i < iterations; i++) FixationMap.Build(median.Fixations.Input, input);
        Console.WriteLine($"    map {sw.Elapsed.TotalMilliseconds / iterations:F2} ms ({map.Width}x{map.Height})");
        sw.Restart();
        for (int i = 0; i < iterations; i++) MapImages.OverlayPng(input.Image!, map.Heat, map.Box, map.Points);
        Console.WriteLine($"    overlay png {sw.Elapsed.TotalMilliseconds / iterations:F2} ms");
        sw.Restart();
        for (int i = 0; i < iterations; i++) MapImages.GrayPng(map.Heat, map.Width, map.Height);
        Console.WriteLine($"    gray png {sw.Elapsed.TotalMilliseconds / iterations:F2} ms");
    }

    /// <summary>Fixation points, outliers, heat map, box and the overlay's pixels (what `explain` computes before encoding files).</summary>
    private static (FixationMap Map, SkiaSharp.SKBitmap Overlay) Postprocess(TensorExplanation e, ExplanationInput input)
    {
        var map = FixationMap.Build(e.Fixations.Input, input);
        return (map, MapImages.Overlay(input.Image!, map.Heat, map.Box, map.Points));
    }

    /// <summary>The overlay and the grayscale heat map as PNG bytes (the pictures `explain` writes).</summary>
    private static void Encode((FixationMap Map, SkiaSharp.SKBitmap Overlay) p)
    {
        MapImages.EncodePng(p.Overlay);
        MapImages.GrayPng(p.Map.Heat, p.Map.Width, p.Map.Height);
    }
}
