using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>Rule 5: element-wise ops keep the same neuron.</summary>
public sealed class PassThroughRule : IUnravelRule, IWeightedGraphRule
{
    /// <summary>The spec's pass-through ops, plus other element-wise activations of the same kind (Selu, Celu, Softplus, Gelu, Mish, ThresholdedRelu, Softsign).</summary>
    public static readonly IReadOnlyList<string> Ops = new[]
    {
        "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Dropout", "Identity",
        "LRN", "BatchNormalization", "Softmax", "LogSoftmax", "Cast", "QuantizeLinear", "DequantizeLinear",
        "Selu", "Celu", "Softplus", "Gelu", "Mish", "ThresholdedRelu", "Softsign",
        "ImageScaler", // per-channel x*scale + bias[c]: an affine map of each neuron on its own
    };

    public IReadOnlyList<string> OpTypes => Ops;

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public void Unravel(UnravelStep step)
    {
        if (step.Node.InputOrNull(0) is not { } input || step.Model.IsConstant(input)) return;
        var inShape = step.Shape(input);
        if (Shapes.ElementCount(inShape) != step.Output.Length)
            throw step.Unsupported($"input {Shapes.Format(inShape)} and output {Shapes.Format(step.Output.Shape)} differ in size");
        step.SendSameIndices(0);
    }

    /// <summary>Weighted: the same neurons keep their weight.</summary>
    public void Distribute(WeightedStep step)
    {
        if (step.Node.InputOrNull(0) is not { } input || step.Model.IsConstant(input)) return;
        var inShape = step.Shape(input);
        if (Shapes.ElementCount(inShape) != step.Output.Length)
            throw step.Unsupported($"input {Shapes.Format(inShape)} and output {Shapes.Format(step.OutputShape)} differ in size");
        step.PassThrough(0);
    }

    /// <summary>Weighted, as ONNX nodes: the same neurons keep their weight.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        if (step.Node.InputOrNull(0) is not { } input || step.Model.IsConstant(input)) return;
        if (Shapes.ElementCount(step.InShape(0)) != Shapes.ElementCount(step.OutputShape))
            throw step.Unsupported($"input {Shapes.Format(step.InShape(0))} and output {Shapes.Format(step.OutputShape)} differ in size");
        step.PassThrough(0);
    }
}
