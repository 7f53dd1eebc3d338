using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Rule 2 (and rule 1 for a Conv whose output is 1x1 with group 1). For output neuron (c, y, x):
/// the channel <c>k* = argmax_k sum_{u,v} A[k,row,col] * W[c,k,u,v]</c> over the channels of c's
/// group (BN-folded weights when a BatchNormalization is the Conv's only consumer), at the centre of
/// the receptive field (or, with "refine", the tap with the largest single contribution).
/// </summary>
public sealed class ConvRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Conv" };

    /// <summary>How many times a channel-last copy of a Conv input was made (for tests of the vector path).</summary>
    internal static long ChannelLastCopies;

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options)
    {
        // A depthwise Conv (one input channel per group) fixes the channel and, with the centre rule,
        // the position too: it needs no activation at all.
        var w = model.ConstantShape(node.Inputs[1]);
        bool depthwise = w is { Length: 4 } && w[1] == 1 && node.Attributes.GetInt("group", 1) > 1;
        return depthwise && options.ConvPosition == ConvPosition.Centre ? Array.Empty<int>() : RuleInputs.First(node, model);
    }

    public IEnumerable<string> ConstantsRead(GraphNode node, OnnxModel model)
    {
        yield return node.Inputs[1];
        if (FoldedBatchNorm(node, model) is { } bn)
        {
            yield return bn.Inputs[1];
            yield return bn.Inputs[4];
        }
    }

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        if (!step.Model.IsConstant(node.Inputs[1])) throw step.Unsupported("the convolution weight is not a constant");
        var xShape = step.Shape(node.Inputs[0]);
        var wt = step.Constant(node.Inputs[1]);
        var (cin, inH, inW, cout, outH, outW, group, cinG, kh, kw, window) = ConvGeometry.Of(node, xShape, wt.Shape, step.Output.Shape, step.Unsupported);
        var w = wt.ToFloats();
        double[]? scale = null;

        if (outH == 1 && outW == 1 && group == 1)
        {
            // Rule 1 (fully connected); BN folding belongs to rule 2 only.
            UnravelFullyConnected(step, step.Input(0), w, window, cin, inH, inW, kh, kw);
            return;
        }

        if (step.Options.FoldBatchNorm) scale = BatchNormScale(step, cout);
        // Depthwise with the centre rule reads no activation (and none was fetched).
        var x = cinG > 1 || step.Options.ConvPosition == ConvPosition.Refine ? step.Input(0) : null;
        var neurons = step.Output.ToArray();
        var job = new ChannelChoice(step.Options.ConvPosition, w, scale, window, cin, inH, inW, cout / group, cinG, outH, outW, x?.Data);
        float[]? hwc = null;
        int taps = kh * kw;
        if (x != null && cinG > 1 && Contributions.Vectorized)
        {
            // The channels of each position a window touches must be contiguous for vector arithmetic (see
            // Contributions): a channel-last copy of the touched blocks of 8 positions (fast 8x8 transposes),
            // or, for 1x1 kernels touching few scattered positions, a gather of each position's channels.
            var blocks = TouchedBlocks(neurons, window, outH * outW, outW, inH, inW, out int touched);
            if (taps == 1 && Math.Min(CountPositions(neurons, outH * outW) * GatherCost, long.MaxValue / 2) < (long)touched * 8 * cin / group)
                job.Columns = GatherColumns(neurons, job, x.Data);
            else
            {
                hwc = System.Buffers.ArrayPool<float>.Shared.Rent(cin * inH * inW);
                Interlocked.Increment(ref ChannelLastCopies);
                Contributions.ChannelLast(x.Data, cin, inH * inW, hwc, blocks);
                job.ChannelLast = hwc;
                job.TapMajor = taps == 1 ? w : TapMajorWeights(node, w, cout, cinG, taps);
            }
        }
        try
        {
            var targets = new int[neurons.Length];
            long work = (long)neurons.Length * cinG * taps;
            ParallelChunks.Run(neurons.Length, work, step.Threads, (from, to) =>
            {
                var sums = new double[cinG];
                var offsets = new int[2 * taps];
                for (int i = from; i < to; i++) targets[i] = job.Target(neurons[i], sums, offsets);
            });
            foreach (int t in targets)
                if (t >= 0) step.Send(0, t);
        }
        finally
        {
            if (hwc != null) System.Buffers.ArrayPool<float>.Shared.Return(hwc);
        }
    }

    /// <summary>
    /// Weighted: each output neuron's weight is shared among the taps (k, row, col) of its window in
    /// proportion to their positive contributions <c>A[k,row,col] * W[c,k,u,v]</c> (signs of a folded
    /// BatchNormalization applied), mixed with an even share over the in-bounds taps
    /// (<see cref="UnravelOptions.FlatShare"/>). A 1x1 output is a fully connected layer: no even share.
    /// </summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        var (g, wt, sign) = WeightedGeometry(node, step.Model, step.Options, x.Shape, step.OutputShape, step.Constant, step.Unsupported);
        bool fullyConnected = g.OutH * g.OutW == 1 && g.Group == 1;
        PositiveShares.Conv(x.Data, g.Cin, g.InH, g.InW, wt.ToFloats(), g.Cout, g.CinG, g.Kh, g.Kw, g.Group, g.Window, g.OutH, g.OutW, sign, step.Output,
            step.InputWeights(0), fullyConnected ? 0 : step.Options.FlatShare, step.Threads, evenFallback: !fullyConnected, node: node);
    }

    /// <summary>The geometry of a Conv for the weighted rule, its constant weight, and the sign of each output channel's folded BatchNormalization (null: none).</summary>
    private static (ConvGeometry Geometry, ConstTensor Weight, float[]? Sign) WeightedGeometry(GraphNode node, OnnxModel model, UnravelOptions options,
        int[] x, int[] y, Func<string, ConstTensor> constant, Func<string, UnsupportedOperatorException> unsupported)
    {
        if (!model.IsConstant(node.Inputs[1])) throw unsupported("the convolution weight is not a constant");
        var wt = constant(node.Inputs[1]);
        var g = ConvGeometry.Of(node, x, wt.Shape, y, unsupported);
        float[]? sign = null;
        if (options.FoldBatchNorm && FoldedBatchNorm(node, model) is { } bn)
        {
            var gamma = constant(bn.Inputs[1]);
            if (gamma.Length != g.Cout) throw unsupported($"{bn.Describe()} has {gamma.Length} channels, the Conv has {g.Cout}");
            sign = new float[g.Cout];
            for (int c = 0; c < g.Cout; c++) sign[c] = gamma.GetDouble(c) < 0 ? -1f : 1f;
        }
        return (g, wt, sign);
    }

    /// <summary>The input channels at every position where a fixated neuron's 1x1 window lands, gathered once.</summary>
    private static Dictionary<int, float[]> GatherColumns(ReadOnlySpan<int> neurons, ChannelChoice job, float[] x)
    {
        var columns = new Dictionary<int, float[]>();
        int plane = job.OutH * job.OutW;
        foreach (int flat in neurons)
        {
            int c = flat / plane, y = flat % plane / job.OutW, xo = flat % job.OutW;
            int row = job.Window.RowStart(y), col = job.Window.ColStart(xo);
            if ((uint)row >= (uint)job.InH || (uint)col >= (uint)job.InW) continue;
            int key = (c / job.CoutG * job.CinG * job.InH + row) * job.InW + col;
            if (columns.ContainsKey(key)) continue;
            var column = new float[job.CinG];
            for (int k = 0, index = key; k < column.Length; k++, index += job.InH * job.InW) column[k] = x[index];
            columns[key] = column;
        }
        return columns;
    }

    /// <summary>A strided gather of one value costs about this many in-block transposed values (tests force either path with 0 or a huge value).</summary>
    internal static long GatherCost { get; set; } = 8;

    /// <summary>How many distinct output positions the neurons occupy.</summary>
    private static int CountPositions(ReadOnlySpan<int> neurons, int plane)
    {
        var seen = new HashSet<int>();
        foreach (int flat in neurons) seen.Add(flat % plane);
        return seen.Count;
    }

    /// <summary>One bit per block of 8 input positions (row-major) that some fixated neuron's window touches.</summary>
    private static ulong[] TouchedBlocks(ReadOnlySpan<int> neurons, Window2D window, int plane, int outW, int inH, int inW, out int touched)
    {
        var blocks = new ulong[((inH * inW + 7) / 8 + 63) / 64];
        int lastPosition = -1;
        foreach (int flat in neurons)
        {
            int position = flat % plane;
            if (position == lastPosition) continue;
            lastPosition = position;
            int row0 = window.RowStart(position / outW), col0 = window.ColStart(position % outW);
            for (int u = 0; u < window.KernelH; u++)
            {
                int row = row0 + u * window.DilationH;
                if ((uint)row >= (uint)inH) continue;
                int first = Math.Max(col0, 0), last = Math.Min(col0 + (window.KernelW - 1) * window.DilationW, inW - 1);
                if (first > last) continue;
                for (int b = (row * inW + first) / 8; b <= (row * inW + last) / 8; b++) blocks[b >> 6] |= 1UL << (b & 63);
            }
        }
        touched = 0;
        foreach (ulong word in blocks) touched += System.Numerics.BitOperations.PopCount(word);
        return blocks;
    }

    /// <summary>Rule 2 for one output neuron: the chosen input neuron (flat index), or -1 when every channel score is NaN.</summary>
    private sealed class ChannelChoice(ConvPosition position, float[] w, double[]? scale, Window2D window, int cin, int inH, int inW, int coutG, int cinG, int outH, int outW, float[]? x)
    {
        public Window2D Window => window;
        public int InH => inH;
        public int InW => inW;
        public int CoutG => coutG;
        public int CinG => cinG;
        public int OutH => outH;
        public int OutW => outW;
        public Dictionary<int, float[]>? Columns { get; set; }
        public float[]? ChannelLast { get; set; }
        public float[]? TapMajor { get; set; }

        public int Target(int flat, double[] sums, int[] offsets)
        {
            int plane = outH * outW;
            int c = flat / plane, y = flat % plane / outW, xo = flat % outW;
            int k0 = c / coutG * cinG;
            // Folding gamma/sigma into W scales every channel's sum by the same factor, so only its
            // sign matters: a negative factor turns the argmax into an argmin (ties: lowest channel).
            double sign = scale == null ? 1.0 : scale[c] > 0 ? 1.0 : scale[c] < 0 ? -1.0 : 0.0;
            int row0 = window.RowStart(y), col0 = window.ColStart(xo);
            int kh = window.KernelH, kw = window.KernelW;
            int kk = 0;
            if (cinG > 1)
            {
                bool inside = (uint)row0 < (uint)inH && (uint)col0 < (uint)inW;
                if (Columns != null && sign != 0 && inside && Columns.TryGetValue((k0 * inH + row0) * inW + col0, out var column))
                    kk = Contributions.ArgmaxProduct(column, w.AsSpan(c * cinG, cinG), (float)sign);
                else if (ChannelLast != null && kh * kw == 1 && sign != 0 && inside)
                    // 1x1: each channel's score is one exact product.
                    kk = Contributions.ArgmaxProduct(ChannelLast.AsSpan((row0 * inW + col0) * cin + k0, cinG), w.AsSpan(c * cinG, cinG), (float)sign);
                else if (ChannelLast != null)
                {
                    int used = 0, taps = kh * kw;
                    for (int u = 0; u < kh; u++)
                    {
                        int row = row0 + u * window.DilationH;
                        if ((uint)row >= (uint)inH) continue;
                        for (int v = 0; v < kw; v++)
                        {
                            int col = col0 + v * window.DilationW;
                            if ((uint)col >= (uint)inW) continue;
                            offsets[used] = (row * inW + col) * cin + k0;
                            offsets[taps + used++] = ((c * kh + u) * kw + v) * cinG;
                        }
                    }
                    kk = Contributions.ArgmaxTapSums(ChannelLast, offsets.AsSpan(0, used), TapMajor!, offsets.AsSpan(taps, used), sign, sums);
                }
                else
                {
                    ChannelSums(x!, w, sums, c, k0, row0, col0, window, inH, inW);
                    if (sign != 1.0) for (int k = 0; k < cinG; k++) sums[k] *= sign;
                    kk = Select.Argmax(sums);
                }
                if (kk < 0) return -1; // every score is NaN: nothing to follow
            }
            int channel = k0 + kk;
            var (pr, pc) = position == ConvPosition.Refine
                ? Refine(x!, w, (c * cinG + kk) * kh * kw, channel * inH * inW, sign, row0, col0, window, inH, inW, y, xo)
                : window.Centre(y, xo, inH, inW);
            return (channel * inH + pr) * inW + pc;
        }
    }

    /// <summary><c>sums[k] = sum over in-bounds taps (u, then v) of A[k0+k,row,col] * W[c,k,u,v]</c>, reading A in place.</summary>
    internal static void ChannelSums(float[] a, float[] w, double[] sums, int c, int k0, int row0, int col0, Window2D window, int inH, int inW)
    {
        int cinG = sums.Length, kh = window.KernelH, kw = window.KernelW;
        for (int k = 0; k < cinG; k++)
        {
            double sum = 0;
            int wBase = (c * cinG + k) * kh * kw;
            int aBase = (k0 + k) * inH * inW;
            for (int u = 0; u < kh; u++)
            {
                int row = row0 + u * window.DilationH;
                if ((uint)row >= (uint)inH) continue;
                for (int v = 0; v < kw; v++)
                {
                    int col = col0 + v * window.DilationW;
                    if ((uint)col >= (uint)inW) continue;
                    sum += (double)a[aBase + row * inW + col] * w[wBase + u * kw + v];
                }
            }
            sums[k] = sum;
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<GraphNode, float[]> TapMajor = new();

    /// <summary>The Conv weight W[c,k,u,v] rearranged as [c][u][v][k], computed once per node.</summary>
    private static float[] TapMajorWeights(GraphNode node, float[] w, int cout, int cinG, int taps) =>
        TapMajor.GetValue(node, _ =>
        {
            var result = new float[w.Length];
            for (int c = 0; c < cout; c++)
                for (int k = 0; k < cinG; k++)
                    for (int t = 0; t < taps; t++)
                        result[(c * taps + t) * cinG + k] = w[(c * cinG + k) * taps + t];
            return result;
        });

    internal static (int Row, int Col) Refine(float[] a, float[] w, int wBase, int aBase, double sign, int row0, int col0, Window2D window, int inH, int inW, int y, int x)
    {
        int bestRow = -1, bestCol = -1;
        double best = double.NegativeInfinity;
        for (int u = 0; u < window.KernelH; u++)
        {
            int row = row0 + u * window.DilationH;
            if ((uint)row >= (uint)inH) continue;
            for (int v = 0; v < window.KernelW; v++)
            {
                int col = col0 + v * window.DilationW;
                if ((uint)col >= (uint)inW) continue;
                double contribution = sign * ((double)a[aBase + row * inW + col] * w[wBase + u * window.KernelW + v]);
                if (double.IsNaN(contribution)) continue;
                if (bestRow < 0 || contribution > best)
                {
                    best = contribution;
                    bestRow = row;
                    bestCol = col;
                }
            }
        }
        return bestRow >= 0 ? (bestRow, bestCol) : window.Centre(y, x, inH, inW);
    }

    /// <summary>Rule 1 for a Conv with a 1x1 output and group 1: its inputs are the in-bounds taps of its single window.</summary>
    private static void UnravelFullyConnected(UnravelStep step, TensorValue x, float[] w, Window2D window, int cin, int inH, int inW, int kh, int kw)
    {
        var inputs = new List<int>();
        var taps = new List<int>();
        int row0 = window.RowStart(0), col0 = window.ColStart(0);
        for (int k = 0; k < cin; k++)
            for (int u = 0; u < kh; u++)
            {
                int row = row0 + u * window.DilationH;
                if ((uint)row >= (uint)inH) continue;
                for (int v = 0; v < kw; v++)
                {
                    int col = col0 + v * window.DilationW;
                    if ((uint)col >= (uint)inW) continue;
                    inputs.Add((k * inH + row) * inW + col);
                    taps.Add((k * kh + u) * kw + v);
                }
            }
        bool spatial = FullyConnected.IsSpatial(step, step.Node.Inputs[0]);
        int perFilter = cin * kh * kw;
        if (Contributions.Vectorized && kh == inH && kw == inW && inputs.Count == perFilter && step.Output.Length * perFilter <= w.Length)
        {
            // The kernel covers the whole input without padding: input i meets weight i, as in a Gemm.
            FullyConnected.ChooseRows(step, 0, x.Data, w, perFilter, step.Output.Length, spatial);
            return;
        }
        var inputArray = inputs.ToArray();
        var contributions = new double[inputArray.Length];
        foreach (int c in step.Output.Indices())
        {
            for (int i = 0; i < inputArray.Length; i++)
                contributions[i] = (double)x.Data[inputArray[i]] * w[c * perFilter + taps[i]];
            FullyConnected.Choose(step, 0, inputArray, contributions, spatial);
        }
    }

    /// <summary>The BatchNormalization that is the Conv output's only consumer, if any.</summary>
    internal static GraphNode? FoldedBatchNorm(GraphNode conv, OnnxModel model)
    {
        string y = conv.Outputs[0];
        var consumers = model.Consumers(y);
        if (consumers.Count != 1 || model.IsGraphOutput(y)) return null;
        var (bn, slot) = consumers[0];
        if (bn.OpType != "BatchNormalization" || !bn.IsDefaultDomain || slot != 0 || bn.Inputs.Count < 5) return null;
        return model.IsConstant(bn.Inputs[1]) && model.IsConstant(bn.Inputs[4]) ? bn : null;
    }

    /// <summary><c>gamma / sqrt(var + eps)</c> per output channel of a folded BatchNormalization, or null.</summary>
    private static double[]? BatchNormScale(UnravelStep step, int channels)
    {
        var bn = FoldedBatchNorm(step.Node, step.Model);
        if (bn == null) return null;
        var gamma = step.Constant(bn.Inputs[1]);
        var variance = step.Constant(bn.Inputs[4]);
        double eps = bn.Attributes.GetFloat("epsilon", 1e-5f);
        if (gamma.Length != channels || variance.Length != channels)
            throw step.Unsupported($"{bn.Describe()} has {gamma.Length} channels, the Conv has {channels}");
        var scale = new double[channels];
        for (int c = 0; c < channels; c++) scale[c] = gamma.GetDouble(c) / Math.Sqrt(variance.GetDouble(c) + eps);
        return scale;
    }

    /// <summary>Weighted, as ONNX nodes (<see cref="WeightedGraph"/>): the same shares as <see cref="Distribute"/>.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var x = step.InShape(0);
        var (g, wt, sign) = WeightedGeometry(step.Node, step.Model, step.Options, x, step.OutputShape, step.Constant, step.Unsupported);
        var w = wt.ToFloats();
        if (sign != null)
        {
            w = (float[])w.Clone(); // the model's own array
            int per = g.CinG * g.Kh * g.Kw;
            for (int c = 0; c < g.Cout; c++)
                if (sign[c] < 0)
                    for (int i = c * per; i < (c + 1) * per; i++) w[i] = -w[i];
        }
        bool fullyConnected = g.OutH * g.OutW == 1 && g.Group == 1;
        step.Send(0, PositiveSharesGraph.Conv(step, 0, w, wt.Shape, g.Group, g.Window, x, step.OutputShape,
            fullyConnected ? 0 : step.Options.FlatShare, evenFallback: !fullyConnected));
    }
}

/// <summary>A 2-D convolution's sizes (batch 1), checked against its weight: input, output, group, kernel and window.</summary>
internal readonly record struct ConvGeometry(int Cin, int InH, int InW, int Cout, int OutH, int OutW, int Group, int CinG, int Kh, int Kw, Window2D Window)
{
    public static ConvGeometry Of(GraphNode node, int[] x, int[] w, int[] y, Func<string, UnsupportedOperatorException> unsupported)
    {
        if (!Shapes.TryChw(x, out int cin, out int inH, out int inW) || w.Length != 4 || !Shapes.TryChw(y, out int cout, out int outH, out int outW))
            throw unsupported($"only 2-D convolutions with batch 1 are supported (input {Shapes.Format(x)})");
        int group = (int)node.Attributes.GetInt("group", 1);
        int cinG = w[1], kh = w[2], kw = w[3];
        if (w[0] != cout || cinG * group != cin || cout % group != 0)
            throw unsupported($"weight {Shapes.Format(w)} does not fit input {Shapes.Format(x)} with group {group}");
        return new ConvGeometry(cin, inH, inW, cout, outH, outW, group, cinG, kh, kw, Window2D.Of(node, kh, kw, inH, inW, outH, outW));
    }
}
