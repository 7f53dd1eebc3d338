using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Rule 1, shared by Gemm, MatMul and the fully connected form of Conv: for one output neuron,
/// keep every input with a positive contribution (plain vector input), or only the largest
/// contribution when the input is a flattened spatial map.
/// </summary>
internal static class FullyConnected
{
    /// <summary>
    /// Sends the chosen inputs of one output neuron. <paramref name="inputs"/> holds the flat
    /// input indices and <paramref name="contributions"/> their <c>a_i * w_ji</c>, in index order.
    /// </summary>
    public static void Choose(UnravelStep step, int inputSlot, ReadOnlySpan<int> inputs, ReadOnlySpan<double> contributions, bool spatial)
    {
        if (spatial && !step.Options.FcSpatialAllPositive)
        {
            int best = Select.Argmax(contributions);
            if (best >= 0) step.Send(inputSlot, inputs[best]);
            return;
        }
        for (int i = 0; i < contributions.Length; i++)
            if (contributions[i] > 0) step.Send(inputSlot, inputs[i]);
    }

    /// <summary>
    /// Rule 1 for every fixated output j of y = W x with W stored by rows (<paramref name="rows"/>[j*k .. j*k+k)):
    /// the exact largest contribution (spatial input) or every positive one, found with vector code
    /// (<see cref="Contributions.ArgmaxProduct"/>, <see cref="Contributions.OrPositiveProducts"/>) that chooses
    /// exactly what the scalar scan of <see cref="Choose"/> chooses.
    /// </summary>
    public static void ChooseRows(UnravelStep step, int inputSlot, float[] x, float[] rows, int k, int n, bool spatial)
    {
        bool argmax = spatial && !step.Options.FcSpatialAllPositive;
        var outputs = step.Output.ToArray();
        foreach (int j in outputs)
            if (j >= n) throw step.Unsupported("output index outside the weight");
        if (x.Length < k) throw step.Unsupported($"input of {x.Length} values, the weight has {k} per row");
        var input = x.AsMemory(0, k);
        // Rows are independent: chunks of them run in parallel, and the chosen inputs are sent in row order.
        if (argmax)
        {
            var best = new int[outputs.Length];
            ParallelChunks.Run(outputs.Length, (long)outputs.Length * k, step.Threads, (from, to) =>
            {
                for (int r = from; r < to; r++) best[r] = Contributions.ArgmaxProduct(input.Span, rows.AsSpan(outputs[r] * k, k));
            });
            foreach (int i in best)
                if (i >= 0) step.Send(inputSlot, i);
            return;
        }
        // Every positive contribution of every row: the union of the rows' bit masks.
        var masks = new List<ulong[]>();
        ParallelChunks.Run(outputs.Length, (long)outputs.Length * k, step.Threads, (from, to) =>
        {
            var mask = new ulong[(k + 63) / 64];
            for (int r = from; r < to; r++) Contributions.OrPositiveProducts(input.Span, rows.AsSpan(outputs[r] * k, k), mask);
            lock (masks) masks.Add(mask);
        });
        for (int word = 0; word < (k + 63) / 64; word++)
        {
            ulong bits = 0;
            foreach (var mask in masks) bits |= mask[word];
            while (bits != 0)
            {
                step.Send(inputSlot, (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits));
                bits &= bits - 1;
            }
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<GraphNode, float[]> Transposed = new();

    /// <summary>A [K,N] weight as N rows of K (computed once per node).</summary>
    public static float[] RowsOf(GraphNode node, float[] w, int k, int n) =>
        Transposed.GetValue(node, _ =>
        {
            var rows = new float[w.Length];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < n; j++)
                    rows[(long)j * k + i] = w[(long)i * n + j];
            return rows;
        });

    /// <summary>
    /// "Flattened spatial map": follow the FC's input back through Flatten/Reshape/Squeeze/Unsqueeze,
    /// pass-through ops and ops with a constant operand to where that chain starts; spatial when that
    /// tensor is [1,C,H,W] with H*W &gt; 1.
    /// </summary>
    public static bool IsSpatial(UnravelStep step, string tensor)
    {
        var model = step.Model;
        var chainOps = new HashSet<string>(PassThroughRule.Ops, StringComparer.Ordinal) { "Flatten", "Reshape", "Squeeze", "Unsqueeze" };
        while (true)
        {
            var producer = model.Producer(tensor);
            if (producer == null || !producer.IsDefaultDomain) break;
            string? next = null;
            if (chainOps.Contains(producer.OpType))
                next = producer.InputOrNull(0);
            else if (producer.OpType is "Add" or "Sub" or "Mul" or "Div")
            {
                var data = RuleInputs.NonConstant(producer, model).ToList();
                if (data.Count == 1 && producer.Inputs.Count(i => i.Length > 0) == 2) next = producer.Inputs[data[0]];
            }
            if (next == null || model.IsConstant(next)) break;
            tensor = next;
        }
        var shape = step.Shape(tensor);
        return Shapes.TryChw(shape, out _, out int h, out int w) && (long)h * w > 1;
    }
}

/// <summary>Rule 1 for Gemm and MatMul (+ bias Add, which is rule "constant operand").</summary>
public sealed class FullyConnectedRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Gemm", "MatMul" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) =>
        RuleInputs.NonConstant(node, model).Where(i => i < 2);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options) => WalkedInputs(node, model);

    public IEnumerable<string> ConstantsRead(GraphNode node, OnnxModel model) =>
        node.Inputs.Take(2).Where(t => t.Length > 0 && model.IsConstant(t));

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        bool aConst = ConstantFirst(node, step.Model, step.Unsupported);
        if (node.OpType == "Gemm")
        {
            UnravelGemm(step);
        }
        else if (!aConst)
            UnravelMatMulDataFirst(step);
        else
            UnravelMatMulDataSecond(step);
    }

    /// <summary>
    /// Whether the weight is the first operand (MatMul W*x); an error unless exactly one operand is a constant,
    /// or when Gemm's weight comes first (only x*W forms are supported).
    /// </summary>
    private static bool ConstantFirst(GraphNode node, OnnxModel model, Func<string, UnsupportedOperatorException> unsupported)
    {
        bool aConst = model.IsConstant(node.Inputs[0]), bConst = model.IsConstant(node.Inputs[1]);
        if (aConst == bConst) throw unsupported(aConst ? "both operands are constant" : "both operands are activations (no constant weight)");
        if (aConst && node.OpType == "Gemm") throw unsupported("the weight is the first operand of Gemm; only x*W forms are supported");
        return aConst;
    }

    /// <summary>Weighted: every input receives its share of each output's weight by positive contribution.</summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        bool aConst = ConstantFirst(node, step.Model, step.Unsupported);
        if (node.OpType == "Gemm")
        {
            var a = step.Input(0);
            var b = step.Constant(node.Inputs[1]);
            bool transA = node.Attributes.GetInt("transA", 0) != 0, transB = node.Attributes.GetInt("transB", 0) != 0;
            if (a.Rank != 2 || b.Shape.Length != 2) throw step.Unsupported("Gemm operands must be 2-D");
            int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
            if (m != 1) throw step.Unsupported($"batch size {m}; only batch 1 is supported");
            int n = transB ? b.Shape[0] : b.Shape[1];
            if ((transB ? b.Shape[1] : b.Shape[0]) != k || step.Output.Length != n) throw step.Unsupported("weight and input sizes differ");
            var w = b.ToFloats();
            PositiveShares.FullyConnected(a.Data, transB ? w : FullyConnected.RowsOf(node, w, k, n), k, n, step.Output, step.InputWeights(0),
                node.Attributes.GetFloat("alpha", 1f));
            return;
        }
        int slot = aConst ? 1 : 0;
        var x = step.Input(slot);
        var wt = step.Constant(node.Inputs[1 - slot]);
        if (wt.Shape.Length != 2) throw step.Unsupported("the weight must be 2-D");
        var weights = wt.ToFloats();
        if (slot == 0)
        {
            int k = wt.Shape[0], n = wt.Shape[1];
            if (x.Length != k || step.Output.Length != n) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not a single row of {k} values");
            PositiveShares.FullyConnected(x.Data, FullyConnected.RowsOf(node, weights, k, n), k, n, step.Output, step.InputWeights(0));
        }
        else
        {
            int n = wt.Shape[0], k = wt.Shape[1];
            if (x.Length != k || step.Output.Length != n) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not a single column of {k} values");
            PositiveShares.FullyConnected(x.Data, weights, k, n, step.Output, step.InputWeights(1));
        }
    }

    private static void UnravelGemm(UnravelStep step)
    {
        var node = step.Node;
        var a = step.Input(0);
        var b = step.Constant(node.Inputs[1]);
        double alpha = node.Attributes.GetFloat("alpha", 1f);
        bool transA = node.Attributes.GetInt("transA", 0) != 0;
        bool transB = node.Attributes.GetInt("transB", 0) != 0;
        if (a.Rank != 2 || b.Shape.Length != 2) throw step.Unsupported("Gemm operands must be 2-D");
        int m = transA ? a.Shape[1] : a.Shape[0];
        int k = transA ? a.Shape[0] : a.Shape[1];
        if (m != 1) throw step.Unsupported($"batch size {m}; only batch 1 is supported");
        int n = transB ? b.Shape[0] : b.Shape[1];
        if ((transB ? b.Shape[1] : b.Shape[0]) != k) throw step.Unsupported("weight and input sizes differ");
        var w = b.ToFloats();
        bool spatial = FullyConnected.IsSpatial(step, node.Inputs[0]);
        if (alpha == 1.0 && Contributions.Vectorized)
        {
            FullyConnected.ChooseRows(step, 0, a.Data, transB ? w : FullyConnected.RowsOf(node, w, k, n), k, n, spatial);
            return;
        }
        var inputs = Enumerable.Range(0, k).ToArray();
        var contributions = new double[k];
        foreach (int j in step.Output.Indices())
        {
            if (j >= n) throw step.Unsupported("output index outside the weight");
            for (int i = 0; i < k; i++)
                {
                    double wji = alpha * (transB ? w[(long)j * k + i] : w[(long)i * n + j]);
                    contributions[i] = a.Data[i] * wji;
                }
            FullyConnected.Choose(step, 0, inputs, contributions, spatial);
        }
    }

    // x[..., 1, K] @ W[K, N] -> y[..., 1, N]
    private static void UnravelMatMulDataFirst(UnravelStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        var wt = step.Constant(node.Inputs[1]);
        if (wt.Shape.Length != 2) throw step.Unsupported("the weight must be 2-D");
        int k = wt.Shape[0], n = wt.Shape[1];
        if (x.Length != k || x.Shape[^1] != k) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not a single row of {k} values");
        var w = wt.ToFloats();
        bool spatial = FullyConnected.IsSpatial(step, node.Inputs[0]);
        if (Contributions.Vectorized)
        {
            FullyConnected.ChooseRows(step, 0, x.Data, FullyConnected.RowsOf(node, w, k, n), k, n, spatial);
            return;
        }
        var inputs = Enumerable.Range(0, k).ToArray();
        var contributions = new double[k];
        foreach (int j in step.Output.Indices())
        {
            for (int i = 0; i < k; i++) contributions[i] = (double)x.Data[i] * w[(long)i * n + j];
            FullyConnected.Choose(step, 0, inputs, contributions, spatial);
        }
    }

    // W[N, K] @ x[K, 1] -> y[N, 1]
    private static void UnravelMatMulDataSecond(UnravelStep step)
    {
        var node = step.Node;
        var x = step.Input(1);
        var wt = step.Constant(node.Inputs[0]);
        if (wt.Shape.Length != 2) throw step.Unsupported("the weight must be 2-D");
        int n = wt.Shape[0], k = wt.Shape[1];
        if (x.Length != k || x.Shape[^1] != 1) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not a single column of {k} values");
        var w = wt.ToFloats();
        bool spatial = FullyConnected.IsSpatial(step, node.Inputs[1]);
        if (Contributions.Vectorized)
        {
            FullyConnected.ChooseRows(step, 1, x.Data, w, k, n, spatial);
            return;
        }
        var inputs = Enumerable.Range(0, k).ToArray();
        var contributions = new double[k];
        foreach (int j in step.Output.Indices())
        {
            for (int i = 0; i < k; i++) contributions[i] = (double)x.Data[i] * w[(long)j * k + i];
            FullyConnected.Choose(step, 1, inputs, contributions, spatial);
        }
    }

    /// <summary>Weighted, as ONNX nodes (<see cref="WeightedGraph"/>): the same shares as <see cref="Distribute"/>.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var node = step.Node;
        bool aConst = ConstantFirst(node, step.Model, step.Unsupported);
        int slot = aConst ? 1 : 0;
        var x = step.InShape(slot);
        var wt = step.Constant(node.Inputs[1 - slot]);
        if (wt.Shape.Length != 2) throw step.Unsupported("the weight must be 2-D");
        var w = wt.ToFloats();
        int k, n;
        float[] rows;
        if (node.OpType == "Gemm")
        {
            bool transA = node.Attributes.GetInt("transA", 0) != 0, transB = node.Attributes.GetInt("transB", 0) != 0;
            if (x.Length != 2) throw step.Unsupported("Gemm operands must be 2-D");
            if ((transA ? x[1] : x[0]) != 1) throw step.Unsupported($"batch size {(transA ? x[1] : x[0])}; only batch 1 is supported");
            k = transA ? x[0] : x[1];
            n = transB ? wt.Shape[0] : wt.Shape[1];
            if ((transB ? wt.Shape[1] : wt.Shape[0]) != k) throw step.Unsupported("weight and input sizes differ");
            rows = transB ? w : FullyConnected.RowsOf(node, w, k, n);
            float alpha = node.Attributes.GetFloat("alpha", 1f);
            if (alpha != 1f)
            {
                var scaled = new float[rows.Length]; // w may be the model's own array
                System.Numerics.Tensors.TensorPrimitives.Multiply(rows, alpha, scaled);
                rows = scaled;
            }
        }
        else if (slot == 0)
        {
            (k, n) = (wt.Shape[0], wt.Shape[1]);
            rows = FullyConnected.RowsOf(node, w, k, n);
        }
        else
        {
            (n, k) = (wt.Shape[0], wt.Shape[1]);
            rows = w;
        }
        if (Shapes.ElementCount(x) != k || Shapes.ElementCount(step.OutputShape) != n)
            throw step.Unsupported($"input {Shapes.Format(x)} is not a single row of {k} values for {n} outputs");
        string xColumn = step.Reshape(step.Activation(slot), new[] { k, 1 });
        string rColumn = step.Reshape(step.Output, new[] { n, 1 });
        step.Send(slot, step.Reshape(PositiveSharesGraph.FullyConnected(step, slot, xColumn, rColumn, rows, n, k), x));
    }
}
