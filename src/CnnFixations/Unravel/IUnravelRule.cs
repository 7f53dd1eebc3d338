using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// One rule of the specification: how the fixations on a node's output are traced back to its
/// inputs. Each rule covers one family of ONNX ops; a new op needs one new rule.
/// </summary>
public interface IUnravelRule
{
    /// <summary>The ONNX op types (default domain) this rule handles.</summary>
    IReadOnlyList<string> OpTypes { get; }

    /// <summary>The inputs that can receive fixations; their activations are fetched for the walk.</summary>
    IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model);

    /// <summary>The inputs whose forward values (not only shapes) the rule reads; only these are fetched from the forward pass.</summary>
    IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options) => Array.Empty<int>();

    /// <summary>The constant inputs (weights, BatchNormalization parameters, pads) whose values the rule reads.</summary>
    IEnumerable<string> ConstantsRead(GraphNode node, OnnxModel model) => Array.Empty<string>();

    /// <summary>Sends every neuron of <see cref="UnravelStep.Output"/> back to the inputs it came from.</summary>
    void Unravel(UnravelStep step);

    /// <summary>
    /// The weighted rule (<see cref="WeightedWalk"/>): shares the weight of every neuron of
    /// <see cref="WeightedStep.Output"/> among the inputs it came from.
    /// </summary>
    void Distribute(WeightedStep step) => throw step.Unsupported($"op type {step.Node.OpType} has no weighted rule; use --rules paper");
}

/// <summary>Helpers shared by rules for choosing which inputs carry data.</summary>
internal static class RuleInputs
{
    /// <summary>Input 0 only (element-wise ops, reshapes, pooling, Conv).</summary>
    public static IEnumerable<int> First(GraphNode node, OnnxModel model) =>
        node.InputOrNull(0) is { } t && !model.IsConstant(t) ? new[] { 0 } : Array.Empty<int>();

    /// <summary>Every non-constant input.</summary>
    public static IEnumerable<int> NonConstant(GraphNode node, OnnxModel model)
    {
        for (int i = 0; i < node.Inputs.Count; i++)
            if (node.InputOrNull(i) is { } t && !model.IsConstant(t)) yield return i;
    }
}
