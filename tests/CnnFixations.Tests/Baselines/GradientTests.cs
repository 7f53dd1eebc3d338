using CnnFixations.Baselines;
using CnnFixations.Inference;
using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Baselines;

/// <summary>The project's backward pass against central finite differences of ONNX Runtime's forward pass.</summary>
public class GradientTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Directional_derivatives_match_finite_differences(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var model = OnnxModel.Load(fixture.ModelPath);
        string logits = ClassifierHead.FindLogits(model);
        using var engine = new GradientEngine(model, logits);
        using var plain = new ModelSession(model, Array.Empty<string>());
        var x = fixture.LoadInput();
        var forward = engine.Forward(x);
        int target = Explainer.TopClasses(forward[logits].Data, 1)[0];
        var g = engine.Backward(forward, target)[model.InputName];
        // Partial derivatives at the input elements with the largest gradients (strong signal; a single-element
        // step crosses few ReLU kinks or max-pool switches, which would make a finite difference meaningless).
        var order = Enumerable.Range(0, g.Length).OrderByDescending(i => Math.Abs(g[i])).ToList();
        var picks = order.Take(3).Concat(order.Skip(order.Count / 50).Take(2)).ToList();
        // Two step sizes: a large one is bent by kinks, a small one by float32 rounding; a right gradient agrees at one of them.
        float[] steps = { 1e-3f, 3e-4f };
        int agree = 0;
        var report = new List<string>();
        foreach (int i in picks)
        {
            double Logit(float delta)
            {
                var data = (float[])x.Data.Clone();
                data[i] += delta;
                return plain.Run(new TensorValue(x.Shape, data), new[] { logits })[logits].Data[target];
            }
            var numeric = steps.Select(eps => (Logit(eps) - Logit(-eps)) / (2 * eps)).ToList();
            if (numeric.Any(n => Math.Abs(n - g[i]) <= 0.03 * Math.Abs(g[i]) + 2e-3)) agree++;
            report.Add($"[{i}] backward {g[i]:G5} finite differences {string.Join(" / ", numeric.Select(n => n.ToString("G5")))}");
        }
        // A step can still cross a kink; four of five must agree within 3%.
        Assert.True(agree >= 4, string.Join("; ", report));
    }
}
