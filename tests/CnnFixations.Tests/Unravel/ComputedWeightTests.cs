using CnnFixations.Unravel;
using CnnFixations.Onnx;

namespace CnnFixations.Tests.Unravel;

/// <summary>Weights computed by constant subgraphs that only ONNX Runtime evaluates, and reshapes whose target is computed from shapes.</summary>
public class ComputedWeightTests
{
    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static TensorValue Input(int seed) => new(new[] { 1, 2, 6, 6 }, Values(72, seed));

    // conv (weight W) -> relu -> maxpool -> flatten -> gemm (weight G)
    private static OnnxModel Model(bool computed, bool shapeReshape)
    {
        var w = Values(4 * 2 * 3 * 3, 1);
        var g = new GraphBuilder("x", 1, 2, 6, 6);
        if (computed)
        {
            // W = Mul(W/2, 2) and G = Sqrt(G^2) * sign... kept simple: W = Mul(half, two), which no built-in folding evaluates.
            g.Initializer("Whalf", new[] { 4, 2, 3, 3 }, w.Select(v => v / 2).ToArray())
             .Initializer("two", new[] { 1 }, 2f)
             .Node("Mul", new[] { "Whalf", "two" }, new[] { "W" });
        }
        else g.Initializer("W", new[] { 4, 2, 3, 3 }, w);
        g.Node("Conv", new[] { "x", "W" }, new[] { "c" }, ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }))
         .Node("Relu", new[] { "c" }, new[] { "r" })
         .Node("MaxPool", new[] { "r" }, new[] { "p" }, ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }));
        if (shapeReshape)
        {
            // flatten written as Reshape(p, Concat(Gather(Shape(p), 0), [-1])), as some exporters do
            g.Int64Initializer("zero", 0).Int64Initializer("minus1", -1)
             .Node("Shape", new[] { "p" }, new[] { "shape" })
             .Node("Gather", new[] { "shape", "zero" }, new[] { "batch" }, ("axis", 0))
             .Node("Concat", new[] { "batch", "minus1" }, new[] { "target" }, ("axis", 0))
             .Node("Reshape", new[] { "p", "target" }, new[] { "f" });
        }
        else g.Node("Flatten", new[] { "p" }, new[] { "f" });
        g.Initializer("G", new[] { 3, 36 }, Values(3 * 36, 2))
         .Node("Gemm", new[] { "f", "G" }, new[] { "logits" }, ("transB", 1));
        return g.Output("logits").Build();
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Give_the_same_walk_as_the_plain_model(bool computed, bool shapeReshape)
    {
        using var plain = new Explainer(Model(false, false), UnravelOptions.Paper);
        using var other = new Explainer(Model(computed, shapeReshape), UnravelOptions.Paper);
        for (int seed = 10; seed < 15; seed++)
        {
            var a = plain.Explain(Input(seed));
            var b = other.Explain(Input(seed));
            Assert.Equal(a.Target, b.Target);
            Assert.Equal(a.Fixations.Input.ToArray(), b.Fixations.Input.ToArray());
            Assert.True(a.Fixations.Input.Count > 0);
        }
    }
}
