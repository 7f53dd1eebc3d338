using CnnFixations.Evaluation;
using CnnFixations.Onnx;
using CnnFixations.Tests.Unravel;

namespace CnnFixations.Tests.Evaluation;

public class WeightRandomizationTests
{
    private static OnnxModel ConvGemm()
    {
        var conv = Enumerable.Range(0, 4 * 2 * 3 * 3).Select(i => (float)Math.Sin(i)).ToArray();
        var fc = Enumerable.Range(0, 5 * 4).Select(i => (float)Math.Cos(i) * 3).ToArray();
        return new GraphBuilder("x", 1, 2, 6, 6)
            .Initializer("Wc", new[] { 4, 2, 3, 3 }, conv)
            .Node("Conv", new[] { "x", "Wc" }, new[] { "c" })
            .Node("GlobalAveragePool", new[] { "c" }, new[] { "p" })
            .Node("Flatten", new[] { "p" }, new[] { "f" })
            .Initializer("Wf", new[] { 5, 4 }, fc)
            .Node("Gemm", new[] { "f", "Wf" }, new[] { "logits" }, ("transB", 1))
            .Output("logits").Build();
    }

    private static double Std(float[] v)
    {
        double m = v.Average(x => (double)x);
        return Math.Sqrt(v.Average(x => (x - m) * (x - m)));
    }

    [Fact]
    public void FindsTheWeightedLayersBottomFirst()
    {
        var layers = WeightRandomization.Layers(ConvGemm());
        Assert.Equal(new[] { "Wc", "Wf" }, layers.Select(l => l.Initializer));
        Assert.Equal(new[] { "Conv", "Gemm" }, layers.Select(l => l.OpType));
        Assert.Equal(new[] { 1, 2, 4, 8, 16, 32, 53 }, WeightRandomization.DefaultDepths(53));
        Assert.Equal(new[] { 1, 2 }, WeightRandomization.DefaultDepths(2));
    }

    [Fact]
    public void RandomizesTheTopLayersDeterministicallyAndLeavesTheOriginalAlone()
    {
        var model = ConvGemm();
        var layers = WeightRandomization.Layers(model);
        var top = WeightRandomization.Randomize(model, layers, 1, 5);
        Assert.Equal(model.TryGetConstant("Wc")!.ToFloats(), top.TryGetConstant("Wc")!.ToFloats());
        var wf = top.TryGetConstant("Wf")!.ToFloats();
        Assert.NotEqual(model.TryGetConstant("Wf")!.ToFloats(), wf);
        Assert.Equal(wf, WeightRandomization.Randomize(model, layers, 1, 5).TryGetConstant("Wf")!.ToFloats());
        var both = WeightRandomization.Randomize(model, layers, 2, 5);
        Assert.Equal(wf, both.TryGetConstant("Wf")!.ToFloats()); // the cascade keeps the top layer's values
        Assert.NotEqual(model.TryGetConstant("Wc")!.ToFloats(), both.TryGetConstant("Wc")!.ToFloats());
        Assert.Equal(new[] { 5, 4 }, both.TryGetConstant("Wf")!.Shape);
        using var explainer = new Explainer(both); // the rewritten model runs
    }

    [Fact]
    public void KeepsTheStandardDeviationOfALargeFloatTensor()
    {
        var w = Enumerable.Range(0, 64 * 32).Select(i => (float)(Math.Sin(i * 0.7) * 0.2)).ToArray();
        var model = new GraphBuilder("x", 1, 32)
            .Initializer("W", new[] { 32, 64 }, w)
            .Node("MatMul", new[] { "x", "W" }, new[] { "logits" })
            .Output("logits").Build();
        var layers = WeightRandomization.Layers(model);
        Assert.Single(layers);
        var r = WeightRandomization.Randomize(model, layers, 1, 0).TryGetConstant("W")!.ToFloats();
        Assert.Equal(Std(w), Std(r), 0.01);
        Assert.InRange(r.Average(x => (double)x), -0.01, 0.01);
    }

    [Fact]
    public void RandomizesTheBundledQuantizedModelBehindDequantizeLinear()
    {
        var model = OnnxModel.Load(TestPaths.BundledModel);
        var layers = WeightRandomization.Layers(model);
        Assert.Equal(53, layers.Count);
        Assert.All(layers, l => Assert.NotNull(l.Scale));
        Assert.Equal("Conv", layers[^1].OpType); // the 1x1 conv logits layer
        var randomized = WeightRandomization.Randomize(model, layers, 2, 0);
        foreach (var (layer, changed) in new[] { (layers[^1], true), (layers[^2], true), (layers[^3], false), (layers[0], false) })
        {
            var before = model.TryGetConstant(Consumer(model, layer))!.ToFloats();
            var after = randomized.TryGetConstant(Consumer(model, layer))!.ToFloats();
            if (!changed) Assert.Equal(before, after);
            else
            {
                Assert.NotEqual(before, after);
                Assert.Equal(Std(before), Std(after), Std(before) * 0.15); // per channel std kept, up to rounding
            }
        }
        using var explainer = new Explainer(randomized);
        Assert.True(explainer.Model.Nodes.Count == model.Nodes.Count);
    }

    // The float weight the layer's node reads: the DequantizeLinear output of the layer's initializer.
    private static string Consumer(OnnxModel model, WeightedLayer layer) =>
        model.Consumers(layer.Initializer).Single(c => c.Node.OpType == "DequantizeLinear").Node.Outputs[0];
}
