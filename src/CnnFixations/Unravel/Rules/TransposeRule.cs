using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Transpose (channel-last inputs, NHWC wrappers): index remapping only. Output neuron with index
/// <c>o</c> is input neuron <c>i</c> with <c>i[perm[d]] = o[d]</c>; no neuron is dropped or added.
/// </summary>
public sealed class TransposeRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Transpose" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public void Unravel(UnravelStep step)
    {
        var map = new IndexMap(step.Node, step.Shape(step.Node.Inputs[0]), step.Output.Shape, step.Unsupported);
        foreach (int flat in step.Output.Indices()) step.Send(0, map.InputIndex(flat));
    }

    /// <summary>Weighted: each neuron keeps its weight at its permuted index.</summary>
    public void Distribute(WeightedStep step)
    {
        var map = new IndexMap(step.Node, step.Shape(step.Node.Inputs[0]), step.OutputShape, step.Unsupported);
        var input = step.InputWeights(0);
        var output = step.Output;
        for (int o = 0; o < output.Length; o++)
            if (output[o] != 0) input[map.InputIndex(o)] += output[o];
    }

    /// <summary>The flat input index of each flat output index.</summary>
    private sealed class IndexMap
    {
        private readonly int[] _outShape;
        private readonly long[] _strideByOutAxis;

        public IndexMap(GraphNode node, int[] inShape, int[] outShape, Func<string, UnsupportedOperatorException> unsupported)
        {
            int rank = inShape.Length;
            var perm = node.Attributes.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
            if (perm.Length != rank || outShape.Length != rank || perm.Order().Where((p, i) => p != i).Any())
                throw unsupported($"perm [{string.Join(",", perm)}] does not permute the {rank} axes of {Shapes.Format(inShape)}");
            for (int d = 0; d < rank; d++)
                if (outShape[d] != inShape[perm[d]])
                    throw unsupported($"output {Shapes.Format(outShape)} is not input {Shapes.Format(inShape)} permuted by [{string.Join(",", perm)}]");
            // The input offset of output index o is sum_d o[d] * stride[perm[d]] (input strides read in output-axis order).
            var inStride = new long[rank];
            long s = 1;
            for (int d = rank - 1; d >= 0; d--) { inStride[d] = s; s *= inShape[d]; }
            _strideByOutAxis = new long[rank];
            for (int d = 0; d < rank; d++) _strideByOutAxis[d] = inStride[perm[d]];
            _outShape = outShape;
        }

        public int InputIndex(int flat)
        {
            long result = 0;
            for (int d = _outShape.Length - 1; d >= 0; d--)
            {
                int i = flat % _outShape[d];
                flat /= _outShape[d];
                result += i * _strideByOutAxis[d];
            }
            return (int)result;
        }
    }

    /// <summary>Weighted, as ONNX nodes: the weights through the inverse permutation.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        _ = new IndexMap(step.Node, step.InShape(0), step.OutputShape, step.Unsupported); // checks the permutation
        int rank = step.OutputShape.Length;
        var perm = step.Node.Attributes.GetInts("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        var inverse = new long[rank];
        for (int d = 0; d < rank; d++) inverse[perm[d]] = d;
        step.Send(0, step.Op("Transpose", new[] { step.Output }, Baselines.Attr.Ints("perm", inverse)));
    }
}
