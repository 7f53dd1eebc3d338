using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Rule 2 (and rule 1 for a Conv whose output is 1x1 with group 1). For output neuron (c, y, x):
/// the channel <c>k* = argmax_k sum_{u,v} A[k,row,col] * W[c,k,u,v]</c> over the channels of c's
/// group (BN-folded weights when a BatchNormalization is the Conv's only consumer), at the centre of
/// the receptive field (or, with "refine", the tap with the largest single contribution).
/// </summary>
public sealed class ConvRule : IUnravelRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "Conv" };

    /// <summary>How many times a channel-last copy of a Conv input was made (for tests of the vector path).</summary>
    internal static long ChannelLastCopies;

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options)
    {
        // A depthwise Conv (one input channel per group) fixes the channel and, with the centre rule,
        // the position too: it needs no activation at all.
        var w = model.TryGetConstant(node.Inputs[1])?.Shape;
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
        if (!Shapes.TryChw(xShape, out int cin, out int inH, out int inW) || wt.Shape.Length != 4 || !Shapes.TryChw(step.Output.Shape, out int cout, out int outH, out int outW))
            throw step.Unsupported($"only 2-D convolutions with batch 1 are supported (input {Shapes.Format(xShape)})");
        int group = (int)node.Attributes.GetInt("group", 1);
        int cinG = wt.Shape[1], kh = wt.Shape[2], kw = wt.Shape[3];
        if (wt.Shape[0] != cout || cinG * group != cin || cout % group != 0)
            throw step.Unsupported($"weight {Shapes.Format(wt.Shape)} does not fit input {Shapes.Format(xShape)} with group {group}");
        var window = Window2D.Of(node, kh, kw, inH, inW, outH, outW);
        var w = wt.ToFloats();
        double[]? scale = null;

        if (outH == 1 && outW == 1 && group == 1)
        {
            // Rule 1 (fully connected); BN folding belongs to rule 2 only.
            UnravelFullyConnected(step, step.Input(0), w, window, cin, inH, inW, kh, kw);
            return;
        }

        if (step.Options.FoldBatchNorm) scale = BatchNormScale(step, cout);
        int coutG = cout / group;
        // Depthwise with the centre rule reads no activation (and none was fetched).
        var x = cinG > 1 || step.Options.ConvPosition == ConvPosition.Refine ? step.Input(0) : null;
        int plane = outH * outW;
        int taps = kh * kw;
        var sums = new double[cinG];
        // 1x1 kernels: the channels at one position, gathered once and shared by every neuron there.
        var columns = taps == 1 && cinG > 1 && Contributions.Vectorized ? new Dictionary<int, float[]>() : null;
        // Larger kernels, when the walk reads a good part of the input: a channel-last copy makes each tap's
        // channels contiguous (vector arithmetic, see Contributions); otherwise channels are read in place.
        long reads = (long)step.Output.Count * cinG * taps;
        float[]? hwc = null;
        float[]? wByTap = null;
        if (x != null && cinG > 1 && taps > 1 && (long)cin * inH * inW <= 2 * reads && Contributions.Vectorized)
        {
            hwc = System.Buffers.ArrayPool<float>.Shared.Rent(cin * inH * inW);
            Interlocked.Increment(ref ChannelLastCopies);
            Contributions.ChannelLast(x.Data, cin, inH * inW, hwc);
            wByTap = TapMajorWeights(node, w, cout, cinG, taps);
        }
        Span<int> aOffsets = stackalloc int[hwc != null ? taps : 0];
        Span<int> wOffsets = stackalloc int[hwc != null ? taps : 0];
        try
        {
            foreach (int flat in step.Output.Indices())
            {
                int c = flat / plane, y = flat % plane / outW, xo = flat % outW;
                int k0 = c / coutG * cinG;
                // Folding gamma/sigma into W scales every channel's sum by the same factor, so only its
                // sign matters: a negative factor turns the argmax into an argmin (ties: lowest channel).
                double sign = scale == null ? 1.0 : scale[c] > 0 ? 1.0 : scale[c] < 0 ? -1.0 : 0.0;
                int row0 = window.RowStart(y), col0 = window.ColStart(xo);
                int kk = 0;
                if (cinG > 1)
                {
                    if (columns != null && sign != 0 && (uint)row0 < (uint)inH && (uint)col0 < (uint)inW)
                    {
                        int key = (k0 * inH + row0) * inW + col0;
                        if (!columns.TryGetValue(key, out var column))
                        {
                            column = new float[cinG];
                            for (int k = 0, index = key; k < cinG; k++, index += inH * inW) column[k] = x!.Data[index];
                            columns[key] = column;
                        }
                        kk = Contributions.ArgmaxProduct(column, w.AsSpan(c * cinG, cinG), (float)sign);
                    }
                    else
                    {
                        if (hwc != null)
                        {
                            int used = 0;
                            for (int u = 0; u < kh; u++)
                            {
                                int row = row0 + u * window.DilationH;
                                if ((uint)row >= (uint)inH) continue;
                                for (int v = 0; v < kw; v++)
                                {
                                    int col = col0 + v * window.DilationW;
                                    if ((uint)col >= (uint)inW) continue;
                                    aOffsets[used] = (row * inW + col) * cin + k0;
                                    wOffsets[used++] = ((c * kh + u) * kw + v) * cinG;
                                }
                            }
                            kk = Contributions.ArgmaxTapSums(hwc, aOffsets[..used], wByTap!, wOffsets[..used], sign, sums);
                        }
                        else
                        {
                            ChannelSums(x!.Data, w, sums, c, k0, row0, col0, window, inH, inW);
                            if (sign != 1.0) for (int k = 0; k < cinG; k++) sums[k] *= sign;
                            kk = Select.Argmax(sums);
                        }
                    }
                    if (kk < 0) continue; // every score is NaN: nothing to follow
                }
                int channel = k0 + kk;
                var (pr, pc) = step.Options.ConvPosition == ConvPosition.Refine
                    ? Refine(x!.Data, w, (c * cinG + kk) * kh * kw, channel * inH * inW, sign, row0, col0, window, inH, inW, y, xo)
                    : window.Centre(y, xo, inH, inW);
                step.Send(0, (channel * inH + pr) * inW + pc);
            }
        }
        finally
        {
            if (hwc != null) System.Buffers.ArrayPool<float>.Shared.Return(hwc);
        }
    }

    /// <summary><c>sums[k] = sum over in-bounds taps (u, then v) of A[k0+k,row,col] * W[c,k,u,v]</c>, reading A in place.</summary>
    private static void ChannelSums(float[] a, float[] w, double[] sums, int c, int k0, int row0, int col0, Window2D window, int inH, int inW)
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

    private static (int Row, int Col) Refine(float[] a, float[] w, int wBase, int aBase, double sign, int row0, int col0, Window2D window, int inH, int inW, int y, int x)
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
            FullyConnected.ChooseRows(step, 0, x.Data.AsSpan(0, perFilter), w, perFilter, step.Output.Length, spatial);
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
}
