using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Unravel;

/// <summary>Runs the walk on hand-given activations (no forward pass), from one start neuron.</summary>
internal static class WalkHarness
{
    public static UnravelResult Walk(OnnxModel model, Dictionary<string, TensorValue> activations, string start, int[] neuron, UnravelOptions? options = null)
    {
        var plan = UnravelPlan.Create(model, start, RuleSet.Default, options);
        var startShape = activations[start].Shape;
        var set = new FixationSet(start, startShape);
        int flat = 0;
        int offset = startShape.Length - neuron.Length;
        for (int d = 0; d < startShape.Length; d++) flat = flat * startShape[d] + (d < offset ? 0 : neuron[d - offset]);
        set.Add(flat);
        return new UnravelWalk(model, plan, RuleSet.Default, options ?? UnravelOptions.Paper, activations).Run(set);
    }

    public static TensorValue T(int[] shape, params float[] data) => new(shape, data);

    /// <summary>The neurons of a set as "c,y,x" strings.</summary>
    public static List<string> Neurons(FixationSet set) => set.ToNeurons().Select(n => string.Join(",", n)).ToList();

    public static FixationSet Layer(UnravelResult r, string tensor) => r.Layers.Single(l => l.Tensor == tensor);

    /// <summary>Every tensor's fixations of one explanation, as comparable strings sorted by tensor name.</summary>
    public static List<string> AllLayers(Explainer explainer, TensorValue input) =>
        explainer.Explain(input).Fixations.Layers
            .OrderBy(l => l.Tensor, StringComparer.Ordinal)
            .Select(l => l.Tensor + ":" + string.Join(",", l.ToArray()))
            .ToList();
}
