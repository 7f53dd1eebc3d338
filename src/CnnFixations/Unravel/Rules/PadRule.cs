using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>Rule 7: Pad shifts every neuron by the leading pads; neurons that fall in the padding are dropped.</summary>
public sealed class PadRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Pad" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public IEnumerable<string> ConstantsRead(GraphNode node, OnnxModel model) =>
        node.InputOrNull(1) is { } pads ? new[] { pads } : Array.Empty<string>();

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        var inShape = step.Shape(node.Inputs[0]);
        var outShape = step.Output.Shape;
        int rank = inShape.Length;
        long[] pads = node.Attributes.GetInts("pads")
            ?? (node.InputOrNull(1) is { } p ? step.Constant(p).ToInt64s() : throw step.Unsupported("no pads given"));
        if (node.InputOrNull(3) != null) throw step.Unsupported("Pad with an axes input is not supported");
        if (pads.Length != 2 * rank || outShape.Length != rank) throw step.Unsupported($"{pads.Length} pads for rank {rank}");
        Span<int> idx = stackalloc int[rank];
        foreach (int flat in step.Output.Indices())
        {
            Shapes.Unravel(flat, outShape, idx);
            int inFlat = 0;
            bool inside = true;
            for (int d = 0; d < rank; d++)
            {
                long i = idx[d] - pads[d];
                if (i < 0 || i >= inShape[d]) { inside = false; break; }
                inFlat = inFlat * inShape[d] + (int)i;
            }
            if (inside) step.Send(0, inFlat);
        }
    }

    /// <summary>Weighted: every neuron's weight moves by the leading pads; weight in the padding is dropped.</summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        var inShape = step.Shape(node.Inputs[0]);
        var outShape = step.OutputShape;
        int rank = inShape.Length;
        long[] pads = node.Attributes.GetInts("pads")
            ?? (node.InputOrNull(1) is { } p ? step.Constant(p).ToInt64s() : throw step.Unsupported("no pads given"));
        if (node.InputOrNull(3) != null) throw step.Unsupported("Pad with an axes input is not supported");
        if (pads.Length != 2 * rank || outShape.Length != rank) throw step.Unsupported($"{pads.Length} pads for rank {rank}");
        var input = step.InputWeights(0);
        Span<int> idx = stackalloc int[rank];
        for (int flat = 0; flat < step.Output.Length; flat++)
        {
            if (!(step.Output[flat] > 0)) continue;
            Shapes.Unravel(flat, outShape, idx);
            int inFlat = 0;
            bool inside = true;
            for (int d = 0; d < rank; d++)
            {
                long i = idx[d] - pads[d];
                if (i < 0 || i >= inShape[d]) { inside = false; break; }
                inFlat = inFlat * inShape[d] + (int)i;
            }
            if (inside) input[inFlat] += step.Output[flat];
        }
    }

    /// <summary>Weighted, as ONNX nodes: the output's weights without the padding.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var node = step.Node;
        var inShape = step.InShape(0);
        int rank = inShape.Length;
        long[] pads = node.Attributes.GetInts("pads")
            ?? (node.InputOrNull(1) is { } p ? step.Constant(p).ToInt64s() : throw step.Unsupported("no pads given"));
        if (node.InputOrNull(3) != null) throw step.Unsupported("Pad with an axes input is not supported");
        if (pads.Length != 2 * rank || step.OutputShape.Length != rank) throw step.Unsupported($"{pads.Length} pads for rank {rank}");
        if (pads.Any(v => v < 0)) throw step.Unsupported("negative pads have no ONNX form of the weighted rule");
        var starts = pads.Take(rank).ToArray();
        var ends = starts.Select((s, d) => s + inShape[d]).ToArray();
        step.Send(0, step.Op("Slice", step.Output, step.G.Int64s(starts), step.G.Int64s(ends), step.G.Int64s(Enumerable.Range(0, rank).Select(d => (long)d).ToArray())));
    }
}
