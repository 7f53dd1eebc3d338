using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>Rule 6: Flatten, Reshape, Squeeze and Unsqueeze keep the row-major order, so a neuron keeps its flat index.</summary>
public sealed class ReshapeRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Flatten", "Reshape", "Squeeze", "Unsqueeze" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public void Unravel(UnravelStep step)
    {
        var inShape = step.Shape(step.Node.Inputs[0]);
        if (Shapes.ElementCount(inShape) != step.Output.Length)
            throw step.Unsupported($"input {Shapes.Format(inShape)} and output {Shapes.Format(step.Output.Shape)} differ in size");
        step.SendSameIndices(0);
    }

    /// <summary>Weighted: a neuron keeps its flat index and its weight.</summary>
    public void Distribute(WeightedStep step)
    {
        var inShape = step.Shape(step.Node.Inputs[0]);
        if (Shapes.ElementCount(inShape) != step.Output.Length)
            throw step.Unsupported($"input {Shapes.Format(inShape)} and output {Shapes.Format(step.OutputShape)} differ in size");
        step.PassThrough(0);
    }

    /// <summary>Weighted, as ONNX nodes: a neuron keeps its flat index and its weight.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        if (Shapes.ElementCount(step.InShape(0)) != Shapes.ElementCount(step.OutputShape))
            throw step.Unsupported($"input {Shapes.Format(step.InShape(0))} and output {Shapes.Format(step.OutputShape)} differ in size");
        step.PassThrough(0);
    }
}
