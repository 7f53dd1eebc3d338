using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Rules 3 and 4: MaxPool, AveragePool and LpPool send (c, y, x) to (c, position of the largest
/// input activation in the window), honouring kernel, strides, pads, dilations and ceil_mode
/// (only in-bounds positions compete; ties go to the first in row-major order).
/// </summary>
public sealed class WindowPoolRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "MaxPool", "AveragePool", "LpPool" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options) => RuleInputs.First(node, model);

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        if (!Shapes.TryChw(x.Shape, out int channels, out int inH, out int inW) || !Shapes.TryChw(step.Output.Shape, out int outC, out int outH, out int outW) || outC != channels)
            throw step.Unsupported($"only 2-D pooling with batch 1 is supported (input {Shapes.Format(x.Shape)})");
        var kernel = node.Attributes.GetInts("kernel_shape");
        if (kernel == null || kernel.Length != 2) throw step.Unsupported("kernel_shape must have two values");
        var window = Window2D.Of(node, (int)kernel[0], (int)kernel[1], inH, inW, outH, outW);
        int plane = outH * outW;
        foreach (int flat in step.Output.Indices())
        {
            int c = flat / plane, y = flat % plane / outW, xo = flat % outW;
            int baseIndex = c * inH * inW;
            int best = -1;
            float bestValue = float.NegativeInfinity;
            int row0 = window.RowStart(y), col0 = window.ColStart(xo);
            for (int u = 0; u < window.KernelH; u++)
            {
                int row = row0 + u * window.DilationH;
                if ((uint)row >= (uint)inH) continue;
                for (int v = 0; v < window.KernelW; v++)
                {
                    int col = col0 + v * window.DilationW;
                    if ((uint)col >= (uint)inW) continue;
                    int index = baseIndex + row * inW + col;
                    float value = x.Data[index];
                    if (float.IsNaN(value)) continue;
                    if (best < 0 || value > bestValue)
                    {
                        best = index;
                        bestValue = value;
                    }
                }
            }
            if (best < 0)
            {
                var (r, cc) = window.Centre(y, xo, inH, inW);
                best = baseIndex + r * inW + cc;
            }
            step.Send(0, best);
        }
    }
    /// <summary>
    /// Weighted: MaxPool shares each neuron's weight evenly among the largest in-bounds inputs of its
    /// window; AveragePool and LpPool in proportion to the positive inputs (evenly when none is positive).
    /// </summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        if (!Shapes.TryChw(x.Shape, out int channels, out int inH, out int inW) || !Shapes.TryChw(step.OutputShape, out int outC, out int outH, out int outW) || outC != channels)
            throw step.Unsupported($"only 2-D pooling with batch 1 is supported (input {Shapes.Format(x.Shape)})");
        var kernel = node.Attributes.GetInts("kernel_shape");
        if (kernel == null || kernel.Length != 2) throw step.Unsupported("kernel_shape must have two values");
        var window = Window2D.Of(node, (int)kernel[0], (int)kernel[1], inH, inW, outH, outW);
        bool max = node.OpType == "MaxPool";
        var input = step.InputWeights(0);
        var taps = new int[window.KernelH * window.KernelW];
        int plane = outH * outW;
        for (int flat = 0; flat < step.Output.Length; flat++)
        {
            if (!(step.Output[flat] > 0)) continue;
            int c = flat / plane, y = flat % plane / outW, xo = flat % outW;
            int n = 0;
            for (int u = 0; u < window.KernelH; u++)
            {
                int row = window.RowStart(y) + u * window.DilationH;
                if ((uint)row >= (uint)inH) continue;
                for (int v = 0; v < window.KernelW; v++)
                {
                    int col = window.ColStart(xo) + v * window.DilationW;
                    if ((uint)col < (uint)inW) taps[n++] = (c * inH + row) * inW + col;
                }
            }
            PositiveShares.Share(step.Output[flat], taps.AsSpan(0, n), x.Data, input, max);
        }
    }

    /// <summary>
    /// Weighted, as ONNX nodes (<see cref="WeightedGraph"/>): AveragePool and LpPool as a depthwise Conv of ones without
    /// even share (in proportion to the positive inputs, evenly when none); MaxPool compares every tap of the window
    /// with the maximum and shares each neuron's weight evenly among the equal ones.
    /// </summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var node = step.Node;
        var x = step.InShape(0);
        if (!Shapes.TryChw(x, out int channels, out int inH, out int inW) || !Shapes.TryChw(step.OutputShape, out int outC, out int outH, out int outW) || outC != channels)
            throw step.Unsupported($"only 2-D pooling with batch 1 is supported (input {Shapes.Format(x)})");
        var kernel = node.Attributes.GetInts("kernel_shape");
        if (kernel == null || kernel.Length != 2) throw step.Unsupported("kernel_shape must have two values");
        var win = Window2D.Of(node, (int)kernel[0], (int)kernel[1], inH, inW, outH, outW);
        int kh = win.KernelH, kw = win.KernelW, taps = kh * kw;
        if (node.OpType != "MaxPool")
        {
            var ones = new float[channels * taps];
            Array.Fill(ones, 1f);
            step.Send(0, PositiveSharesGraph.Conv(step, 0, ones, new[] { channels, 1, kh, kw }, channels, win, x, step.OutputShape, flat: 0, evenFallback: true));
            return;
        }
        var g = step.G;
        string xa = step.Activation(0);
        string max = step.Op("MaxPool", new[] { xa }, node.Attributes.Protos.ToArray());
        var (bottom, right) = win.TrailingPads(inH, inW, outH, outW);
        // Taps outside the input read -inf, which is never the maximum of a window that holds an input.
        string padded = win.PadTop == 0 && win.PadLeft == 0 && bottom == 0 && right == 0 ? xa
            : step.Op("Pad", xa, g.Int64s(0, 0, win.PadTop, win.PadLeft, 0, 0, bottom, right), g.Scalar(float.NegativeInfinity));
        var hits = new List<string>();
        for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                long r0 = (long)u * win.DilationH, c0 = (long)v * win.DilationW;
                string tap = step.Op("Slice", padded, g.Int64s(r0, c0), g.Int64s(r0 + (long)(outH - 1) * win.StrideH + 1, c0 + (long)(outW - 1) * win.StrideW + 1),
                    g.Int64s(2, 3), g.Int64s(win.StrideH, win.StrideW));
                hits.Add(step.Op("Equal", tap, max));
            }
        string count = step.Op("Sum", hits.Select(h => step.Op("Cast", new[] { h }, Baselines.Attr.Int("to", 1))).ToArray());
        string share = step.Op("Div", step.Output, step.Op("Max", count, step.Scalar(1)));
        var planes = hits.Select(h => step.Op("Unsqueeze", step.Where(h, share, step.Scalar(0)), g.Int64s(2))).ToArray();
        string stacked = step.Reshape(step.Op("Concat", planes, Baselines.Attr.Int("axis", 2)), new[] { 1, channels * taps, outH, outW });
        var oneHot = new float[channels * taps * taps];
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < taps; t++) oneHot[(c * taps + t) * taps + t] = 1;
        step.Send(0, Baselines.TransposedWindow.Apply(g, stacked, oneHot, new[] { channels * taps, 1, kh, kw }, win, x, step.OutputShape, channels));
    }
}

/// <summary>
/// Rule 4 for global pooling (GlobalAveragePool, GlobalMaxPool, GlobalLpPool, and ReduceMean /
/// ReduceMax over all spatial axes): channel c goes to the position of the largest activation of
/// channel c; option: every position with a positive activation.
/// </summary>
public sealed class GlobalPoolRule : IUnravelRule, IWeightedGraphRule
{
    public IReadOnlyList<string> OpTypes { get; } = new[] { "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceMax" };

    public IEnumerable<int> WalkedInputs(GraphNode node, OnnxModel model) => RuleInputs.First(node, model);

    public IEnumerable<int> ValuesRead(GraphNode node, OnnxModel model, UnravelOptions options) => RuleInputs.First(node, model);

    public IEnumerable<string> ConstantsRead(GraphNode node, OnnxModel model) =>
        node.OpType.StartsWith("Reduce", StringComparison.Ordinal) && node.InputOrNull(1) is { } axes ? new[] { axes } : Array.Empty<string>();

    public void Unravel(UnravelStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        int rank = x.Rank;
        if (rank < 3 || x.Shape[0] != 1) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not [1,C,spatial...]");
        int channels = x.Shape[1];
        int spatial = x.Length / Math.Max(channels, 1);
        if (node.OpType.StartsWith("Reduce", StringComparison.Ordinal)) CheckSpatialAxes(step, rank);
        if (step.Output.Length != channels) throw step.Unsupported($"output {Shapes.Format(step.Output.Shape)} does not have one value per channel");
        bool allPositive = step.Options.GlobalPoolAllPositive;
        foreach (int c in step.Output.Indices())
        {
            int baseIndex = c * spatial;
            if (allPositive)
            {
                for (int i = 0; i < spatial; i++) if (x.Data[baseIndex + i] > 0) step.Send(0, baseIndex + i);
                continue;
            }
            int best = -1;
            float bestValue = float.NegativeInfinity;
            for (int i = 0; i < spatial; i++)
            {
                float value = x.Data[baseIndex + i];
                if (float.IsNaN(value)) continue;
                if (best < 0 || value > bestValue) { best = i; bestValue = value; }
            }
            if (best >= 0) step.Send(0, baseIndex + best);
        }
    }

    /// <summary>
    /// Weighted: a global maximum shares each channel's weight evenly among its largest positions; an
    /// average in proportion to the positive positions (evenly when none is positive).
    /// </summary>
    public void Distribute(WeightedStep step)
    {
        var node = step.Node;
        var x = step.Input(0);
        int rank = x.Rank;
        if (rank < 3 || x.Shape[0] != 1) throw step.Unsupported($"input {Shapes.Format(x.Shape)} is not [1,C,spatial...]");
        int channels = x.Shape[1];
        int spatial = x.Length / Math.Max(channels, 1);
        if (step.Output.Length != channels) throw step.Unsupported($"output {Shapes.Format(step.OutputShape)} does not have one value per channel");
        bool max = node.OpType is "GlobalMaxPool" or "ReduceMax";
        var input = step.InputWeights(0);
        var positions = new int[spatial];
        for (int c = 0; c < channels; c++)
        {
            if (!(step.Output[c] > 0)) continue;
            for (int i = 0; i < spatial; i++) positions[i] = c * spatial + i;
            PositiveShares.Share(step.Output[c], positions, x.Data, input, max);
        }
    }

    private static void CheckSpatialAxes(UnravelStep step, int rank)
    {
        var node = step.Node;
        long[]? axes = node.Attributes.GetInts("axes");
        if (axes == null && node.InputOrNull(1) is { } axesInput) axes = step.Constant(axesInput).ToInt64s();
        if (axes == null || axes.Length == 0)
        {
            if (node.Attributes.GetInt("noop_with_empty_axes", 0) != 0) throw step.Unsupported("a ReduceMean that reduces nothing");
            throw step.Unsupported("reduces every axis, channels included; only spatial axes can be reduced");
        }
        var set = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var expected = Enumerable.Range(2, rank - 2).Select(i => (long)i).ToHashSet();
        if (!set.SetEquals(expected))
            throw step.Unsupported($"reduces axes [{string.Join(",", axes)}]; only a reduction over all spatial axes (global pooling) is supported");
    }

    /// <summary>Weighted, as ONNX nodes (<see cref="WeightedGraph"/>): the same shares as <see cref="Distribute"/>.</summary>
    void IWeightedGraphRule.Emit(WeightedGraphStep step)
    {
        var node = step.Node;
        var x = step.InShape(0);
        int rank = x.Length;
        if (rank < 3 || x[0] != 1) throw step.Unsupported($"input {Shapes.Format(x)} is not [1,C,spatial...]");
        int channels = x[1];
        long spatial = Shapes.ElementCount(x) / Math.Max(channels, 1);
        if (Shapes.ElementCount(step.OutputShape) != channels) throw step.Unsupported($"output {Shapes.Format(step.OutputShape)} does not have one value per channel");
        var kept = new int[rank];
        Array.Fill(kept, 1);
        kept[1] = channels;
        var axes = Enumerable.Range(2, rank - 2).Select(a => (long)a).ToArray();
        string r = step.Reshape(step.Output, kept);
        string xa = step.Activation(0);
        if (node.OpType is "GlobalMaxPool" or "ReduceMax")
        {
            string hit = step.Op("Equal", xa, step.Op("ReduceMax", new[] { xa }, Baselines.Attr.Ints("axes", axes), Baselines.Attr.Int("keepdims", 1)));
            string count = step.ReduceSum(step.Op("Cast", new[] { hit }, Baselines.Attr.Int("to", 1)), axes, keepDims: true);
            step.Send(0, step.Where(hit, step.Op("Div", r, step.Op("Max", count, step.Scalar(1))), step.Scalar(0)));
            return;
        }
        string xp = step.NonNegative(0) ? xa : step.Op("Relu", xa);
        string total = step.ReduceSum(xp, axes, keepDims: true);
        string positive = step.Op("Greater", total, step.Scalar(0));
        string factor = step.Where(positive, step.Op("Div", r, step.Where(positive, total, step.Scalar(1))), step.Scalar(0));
        string even = step.Where(positive, step.Scalar(0), step.Op("Mul", r, step.Scalar((float)(1.0 / spatial))));
        step.Send(0, step.Op("Add", step.Op("Mul", xp, factor), even));
    }
}
