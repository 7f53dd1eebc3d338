using CnnFixations;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;
using CnnFixations.Baselines;
var model = OnnxModel.Load(args[0]);
var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
int threads = int.Parse(args[2]);
var input = ExplanationInput.FromImage(args[1], pre, model.InputShape[2], model.InputShape[3]);
foreach (var (name, opts) in new[] { ("paper", UnravelOptions.Paper), ("weighted", UnravelOptions.Default), ("managed", UnravelOptions.Default with { WalkEngine = WalkEngine.Managed }) })
{
    using var ex = new Explainer(model, opts, intraOpThreads: threads);
    ex.WaitForBackgroundWork();
    var fwd = new List<double>(); var walk = new List<double>(); var total = new List<double>();
    for (int it = 0; it < 12; it++)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var f = ex.Forward(input.Tensor);
        double fm = sw.Elapsed.TotalMilliseconds;
        var e = ex.Unravel(f, Explainer.TopClasses(f[ex.LogitsTensor].Data, 1)[0]);
        var map = FixationMap.Build(e, input, e.Weights != null ? MapOptions.Weighted : MapOptions.Default);
        if (it >= 2) { fwd.Add(fm); walk.Add(e.UnravelMs); total.Add(sw.Elapsed.TotalMilliseconds); }
    }
    double Med(List<double> l) { l.Sort(); return l[l.Count / 2]; }
    Console.WriteLine($"{name,-9} forward+fetch {Med(fwd),7:F1} ms  walk {Med(walk),7:F1} ms  forward+walk+map {Med(total),7:F1} ms" +
        (opts.Rules == RuleFamily.Weighted ? $"  (walk engine: {(ex.ManagedWalkReason == null ? "ONNX Runtime" : "managed: " + ex.ManagedWalkReason)})" : ""));
}
{
    using var ex = new Explainer(model, UnravelOptions.Paper, intraOpThreads: threads);
    var g = new GradCamMethod(); var t = new List<double>();
    for (int it = 0; it < 12; it++) { var sw = System.Diagnostics.Stopwatch.StartNew(); g.Compute(ex, input, 287); if (it >= 2) t.Add(sw.Elapsed.TotalMilliseconds); }
    t.Sort(); Console.WriteLine($"gradcam   map {t[t.Count/2],7:F1} ms");
    using var plain = new Explainer(model, UnravelOptions.Paper, intraOpThreads: threads);
}
