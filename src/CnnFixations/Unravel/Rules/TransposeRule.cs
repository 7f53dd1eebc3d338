using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Transpose (channel-last inputs, NHWC wrappers): index remapping only. Output neuron with index
/// <c>o</c> is input neuron <c>i</c> with <c>i[perm[d]] = o[d]</c>; no neuron is dropped or added.
/// </summary>
public sealed class TransposeRule : IUnravelRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Transpose" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public void Unravel(UnravelStep step)
    {
        var inShape = step.Shape(step.Node.Inputs[0]);
        var outShape = step.Output.Shape;
        int rank = inShape.Length;
        var perm = step.Node.Attributes.GetInts("perm")?.Select(p => (int)p).ToArray()
                   ?? Enumerable.Range(0, rank).Reverse().ToArray();
        if (perm.Length != rank || outShape.Length != rank || perm.Order().Where((p, i) => p != i).Any())
            throw step.Unsupported($"perm [{string.Join(",", perm)}] does not permute the {rank} axes of {Shapes.Format(inShape)}");
        for (int d = 0; d < rank; d++)
            if (outShape[d] != inShape[perm[d]])
                throw step.Unsupported($"output {Shapes.Format(outShape)} is not input {Shapes.Format(inShape)} permuted by [{string.Join(",", perm)}]");
        // Input strides, read in output-axis order: the input offset of output index o is sum_d o[d] * stride[perm[d]].
        var inStride = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) { inStride[d] = s; s *= inShape[d]; }
        var strideByOutAxis = new long[rank];
        for (int d = 0; d < rank; d++) strideByOutAxis[d] = inStride[perm[d]];
        Span<int> idx = stackalloc int[rank];
        foreach (int flat in step.Output.Indices())
        {
            Shapes.Unravel(flat, outShape, idx);
            long inFlat = 0;
            for (int d = 0; d < rank; d++) inFlat += idx[d] * strideByOutAxis[d];
            step.Send(0, (int)inFlat);
        }
    }
}
