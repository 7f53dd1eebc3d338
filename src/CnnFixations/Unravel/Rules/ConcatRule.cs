using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>Rule 9: Concat on the channel axis routes each neuron to the input that owns its channel, minus that input's offset.</summary>
public sealed class ConcatRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Concat" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.NonConstant(node, model);

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        var outShape = step.Output.Shape;
        int rank = outShape.Length;
        long axis = node.Attributes.GetInt("axis", 1);
        if (axis < 0) axis += rank;
        if (axis != 1 || rank < 2)
            throw step.Unsupported($"Concat on axis {node.Attributes.GetInt("axis", 1)}; only the channel axis (1) can be unravelled");
        int inner = 1;
        for (int d = 2; d < rank; d++) inner *= outShape[d];
        int n = node.Inputs.Count;
        var offsets = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            int channels = node.Inputs[i].Length == 0 ? 0 : step.Shape(node.Inputs[i])[1];
            offsets[i + 1] = offsets[i] + channels;
        }
        if (offsets[n] != outShape[1]) throw step.Unsupported("input channels do not add up to the output's");
        foreach (int flat in step.Output.Indices())
        {
            int c = flat / inner, rest = flat % inner;
            int i = 0;
            while (offsets[i + 1] <= c) i++;
            if (step.Model.IsConstant(node.Inputs[i])) continue;
            step.Send(i, (c - offsets[i]) * inner + rest);
        }
    }

    /// <summary>Weighted: each neuron's weight goes to the input that owns its channel.</summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        var outShape = step.OutputShape;
        int rank = outShape.Length;
        long axis = node.Attributes.GetInt("axis", 1);
        if (axis < 0) axis += rank;
        if (axis != 1 || rank < 2)
            throw step.Unsupported($"Concat on axis {node.Attributes.GetInt("axis", 1)}; only the channel axis (1) can be unravelled");
        int inner = 1;
        for (int d = 2; d < rank; d++) inner *= outShape[d];
        int offset = 0;
        for (int i = 0; i < node.Inputs.Count; i++)
        {
            if (node.Inputs[i].Length == 0) continue;
            int channels = step.Shape(node.Inputs[i])[1];
            if (!step.Model.IsConstant(node.Inputs[i]))
            {
                var target = step.InputWeights(i);
                System.Numerics.Tensors.TensorPrimitives.Add(step.Output.AsSpan(offset * inner, channels * inner), target, target);
            }
            offset += channels;
        }
        if (offset != outShape[1]) throw step.Unsupported("input channels do not add up to the output's");
    }

    /// <summary>Weighted, as ONNX nodes: each input's channels of the output's weights.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var node = step.Node;
        int rank = step.OutputShape.Length;
        long axis = node.Attributes.GetInt("axis", 1);
        if (axis < 0) axis += rank;
        if (axis != 1 || rank < 2)
            throw step.Unsupported($"Concat on axis {node.Attributes.GetInt("axis", 1)}; only the channel axis (1) can be unravelled");
        long offset = 0;
        for (int i = 0; i < node.Inputs.Count; i++)
        {
            if (node.Inputs[i].Length == 0) continue;
            int channels = step.InShape(i)[1];
            if (!step.Model.IsConstant(node.Inputs[i]))
                step.Send(i, step.Op("Slice", step.Output, step.G.Int64s(offset), step.G.Int64s(offset + channels), step.G.Int64s(1)));
            offset += channels;
        }
        if (offset != step.OutputShape[1]) throw step.Unsupported("input channels do not add up to the output's");
    }
}
