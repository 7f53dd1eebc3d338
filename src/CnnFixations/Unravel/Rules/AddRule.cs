using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Rule 8: at a residual Add each neuron goes to exactly one input, the one whose value at that
/// neuron is largest (ties: the lowest input index). A constant operand (a bias) is never chosen,
/// so an Add with one constant operand passes every neuron through.
/// </summary>
public sealed class AddRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Add" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.NonConstant(node, model);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options)
    {
        var data = RuleInputs.NonConstant(node, model).ToList();
        return data.Count > 1 ? data : Array.Empty<int>();
    }

    public void Unravel(UnravelStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        var outShape = step.Output.Shape;
        if (data.Length == 1)
        {
            var inShape = step.Shape(step.Node.Inputs[data[0]]);
            foreach (int flat in step.Output.Indices()) step.Send(data[0], Broadcast.MapIndex(flat, outShape, inShape));
            return;
        }
        var values = data.Select(step.Input).ToArray();
        foreach (int flat in step.Output.Indices())
        {
            int chosen = -1;
            int chosenIndex = 0;
            float best = float.NegativeInfinity;
            for (int j = 0; j < data.Length; j++)
            {
                int index = Broadcast.MapIndex(flat, outShape, values[j].Shape);
                float v = values[j].Data[index];
                if (chosen < 0 || v > best || (float.IsNaN(best) && !float.IsNaN(v)))
                {
                    chosen = j;
                    chosenIndex = index;
                    best = v;
                }
            }
            if (chosen >= 0) step.Send(data[chosen], chosenIndex);
        }
    }

    /// <summary>
    /// Weighted: each neuron's weight is shared among the data inputs in proportion to their positive
    /// values there (evenly when none is positive); a constant operand gets nothing.
    /// </summary>
    public void Distribute(WeightedStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        var outShape = step.OutputShape;
        if (data.Length == 1)
        {
            step.PassThrough(data[0]);
            return;
        }
        var values = data.Select(step.Input).ToArray();
        var targets = data.Select(step.InputWeights).ToArray();
        var index = new int[data.Length];
        // Operands of the output's size (a residual sum) map each flat index to itself.
        bool same = values.All(v => v.Length == step.Output.Length);
        for (int flat = 0; flat < step.Output.Length; flat++)
        {
            double r = step.Output[flat];
            if (!(r > 0)) continue;
            double total = 0;
            for (int j = 0; j < data.Length; j++)
            {
                index[j] = same ? flat : Broadcast.MapIndex(flat, outShape, values[j].Shape);
                float v = values[j].Data[index[j]];
                if (v > 0) total += v;
            }
            for (int j = 0; j < data.Length; j++)
            {
                float v = values[j].Data[index[j]];
                double share = total > 0 && !double.IsInfinity(total) ? (v > 0 ? v / total : 0) : 1.0 / data.Length;
                if (share > 0) targets[j][index[j]] += (float)(r * share);
            }
        }
    }

    /// <summary>Weighted, as ONNX nodes (<see cref="WeightedGraph"/>): the same shares as <see cref="Distribute"/> (operands of the output's shape).</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        if (data.Length == 1)
        {
            step.PassThrough(data[0]);
            return;
        }
        if (data.Any(i => !Shapes.SameShape(step.InShape(i), step.OutputShape))) throw step.Unsupported("a broadcast Add of activations has no ONNX form of its weighted rule");
        // x_j' = max(x_j, tiny / n) and Q = R / sum_j x_j': operand j gets Q x_j', which is R x_j+ / sum where the positive values
        // sum to more than 0 (tiny is below the last bit) and R / n where none is positive, without a test.
        string floor = step.Scalar(PositiveSharesGraph.Tiny / data.Length);
        var positive = data.Select(i => step.Op("Max", step.Activation(i), floor)).ToArray();
        string total = positive[0];
        for (int j = 1; j < positive.Length; j++) total = step.Op("Add", total, positive[j]);
        string quotient = step.Op("Div", step.Output, total);
        for (int j = 0; j < data.Length; j++)
            step.Send(data[j], step.Op("Mul", quotient, positive[j]));
    }
}

/// <summary>
/// Rule 10: Mul. With a constant operand: pass-through to the other input. A per-channel gate
/// (squeeze-excitation <c>x * sigmoid(...)</c>): follow the input with the output's shape (the
/// lowest such input when both have it); the gate branch gets nothing.
/// </summary>
public sealed class MulRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Mul" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.NonConstant(node, model);

    public void Unravel(UnravelStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        var outShape = step.Output.Shape;
        int follow = -1;
        if (data.Length == 1) follow = data[0];
        else
            foreach (int i in data)
                if (Shapes.SameShape(step.Shape(step.Node.Inputs[i]), outShape)) { follow = i; break; }
        if (follow < 0) throw step.Unsupported("no operand has the output's shape, so the gate cannot be told from the data");
        var inShape = step.Shape(step.Node.Inputs[follow]);
        foreach (int flat in step.Output.Indices()) step.Send(follow, Broadcast.MapIndex(flat, outShape, inShape));
    }

    /// <summary>Weighted: the followed input (as in <see cref="Unravel"/>) takes every neuron's weight.</summary>
    public void Distribute(WeightedStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        int follow = -1;
        if (data.Length == 1) follow = data[0];
        else
            foreach (int i in data)
                if (Shapes.SameShape(step.Shape(step.Node.Inputs[i]), step.OutputShape)) { follow = i; break; }
        if (follow < 0) throw step.Unsupported("no operand has the output's shape, so the gate cannot be told from the data");
        step.PassThrough(follow);
    }

    /// <summary>Weighted, as ONNX nodes: the followed input takes every neuron's weight.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        int follow = -1;
        if (data.Length == 1) follow = data[0];
        else
            foreach (int i in data)
                if (Shapes.SameShape(step.InShape(i), step.OutputShape)) { follow = i; break; }
        if (follow < 0) throw step.Unsupported("no operand has the output's shape, so the gate cannot be told from the data");
        step.PassThrough(follow);
    }
}

/// <summary>Sub and Div with a constant operand (in-model normalization): pass-through to the non-constant input.</summary>
public sealed class ConstantOperandRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Sub", "Div" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.NonConstant(node, model);

    public void Unravel(UnravelStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        if (data.Length != 1) throw step.Unsupported($"{step.Node.OpType} of two activations; only a constant operand is supported");
        var outShape = step.Output.Shape;
        var inShape = step.Shape(step.Node.Inputs[data[0]]);
        foreach (int flat in step.Output.Indices()) step.Send(data[0], Broadcast.MapIndex(flat, outShape, inShape));
    }

    /// <summary>Weighted: the non-constant input takes every neuron's weight.</summary>
    public void Distribute(WeightedStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        if (data.Length != 1) throw step.Unsupported($"{step.Node.OpType} of two activations; only a constant operand is supported");
        step.PassThrough(data[0]);
    }

    /// <summary>Weighted, as ONNX nodes: the non-constant input takes every neuron's weight.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var data = RuleInputs.NonConstant(step.Node, step.Model).ToArray();
        if (data.Length != 1) throw step.Unsupported($"{step.Node.OpType} of two activations; only a constant operand is supported");
        step.PassThrough(data[0]);
    }
}
