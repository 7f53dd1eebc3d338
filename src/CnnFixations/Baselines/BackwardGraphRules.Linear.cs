using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Baselines;

/// <summary>Backward rules of the linear, windowed and structural ops.</summary>
internal sealed partial class BackwardGraphRules
{
    private void Gemm(Site n)
    {
        var a = n.Node.Attributes;
        float alpha = a.GetFloat("alpha", 1f);
        bool transA = a.GetInt("transA", 0) != 0, transB = a.GetInt("transB", 0) != 0;
        if (!n.IsData(0) || n.IsData(1)) throw n.Unsupported("only data x constant Gemm is differentiated");
        if (!n.Wants(0)) return;
        var x = n.InShape(0);
        if ((transA ? x[1] : x[0]) != 1) throw n.Unsupported($"batch {(transA ? x[1] : x[0])}");
        // dA = alpha * dY B^T (B^T read in place through transB).
        var attributes = new List<Onnx.Proto.AttributeProto> { Attr.Int("transB", transB ? 0 : 1) };
        if (alpha != 1f) attributes.Add(Attr.Float("alpha", alpha));
        string dx = _g.Node("Gemm", new[] { n.Dy, n.X(1) }, attributes.ToArray());
        n.Send(0, transA ? ReshapeTo(dx, new[] { 1, x[0] }, x) : dx);
    }

    private void MatMul(Site n)
    {
        var y = n.OutShape;
        int outCount = (int)Shapes.ElementCount(y);
        if (n.IsData(0) && !n.IsData(1))
        {
            var w = n.InShape(1);
            var x = n.InShape(0);
            if (w.Length != 2 || Shapes.ElementCount(x) != w[0] || outCount != w[1]) throw n.Unsupported("only a single row times a matrix is differentiated");
            if (!n.Wants(0)) return;
            string row = ReshapeTo(n.Dy, y, new[] { 1, w[1] });
            n.Send(0, ReshapeTo(_g.Node("Gemm", new[] { row, n.X(1) }, Attr.Int("transB", 1)), new[] { 1, w[0] }, x));
        }
        else if (!n.IsData(0) && n.IsData(1))
        {
            var w = n.InShape(0);
            var x = n.InShape(1);
            if (w.Length != 2 || Shapes.ElementCount(x) != w[1] || outCount != w[0]) throw n.Unsupported("only a matrix times a single column is differentiated");
            if (!n.Wants(1)) return;
            string row = ReshapeTo(n.Dy, y, new[] { 1, w[0] });
            n.Send(1, ReshapeTo(_g.Node("Gemm", new[] { row, n.X(0) }), new[] { 1, w[1] }, x));
        }
        else throw n.Unsupported("a MatMul of two activations is not differentiated");
    }

    /// <summary>dX is the transposed convolution of dY with the same weights, cropped/padded to X's size.</summary>
    private void Conv(Site n)
    {
        if (!n.Wants(0)) return;
        var x = n.InShape(0);
        var w = n.InShape(1);
        var y = n.OutShape;
        if (x.Length != 4 || w.Length != 4 || y.Length != 4) throw n.Unsupported("only 2-D convolutions are differentiated");
        int group = (int)n.Node.Attributes.GetInt("group", 1);
        var win = Window2D.Of(n.Node, w[2], w[3], x[2], x[3], y[2], y[3]);
        n.Send(0, DepthwiseFlipped(n, win, x, y, w, group) ?? _g.Node("ConvTranspose", new[] { n.Dy, n.X(1) }, TransposedWindow(win, x, y, group)));
    }

    /// <summary>
    /// A stride-1 depthwise convolution's input gradient as a depthwise Conv of dY with the flipped kernels; null when not applicable.
    /// </summary>
    private string? DepthwiseFlipped(Site n, Window2D win, int[] x, int[] y, int[] w, int group)
    {
        if (group == 1 || w[1] != 1 || !_model.IsConstant(n.X(1)) || _model.TryGetConstant(n.X(1)) is not { IsFloat: true } weights) return null;
        return Baselines.TransposedWindow.DepthwiseFlipped(_g, n.Dy, weights.ToFloats(), win, x, y, group);
    }

    private static Onnx.Proto.AttributeProto[] TransposedWindow(Window2D win, int[] x, int[] y, int group) =>
        Baselines.TransposedWindow.Attributes(win, x, y, group);

    /// <summary>
    /// Each output's gradient goes to the first maximum of its window (ONNX Runtime's MaxPool indices pick it
    /// as <see cref="BackwardOps"/> does). Non-overlapping windows: MaxUnpool. Overlapping windows (one input
    /// can be the maximum of several): the index is decoded into a window offset, and a grouped ConvTranspose
    /// with one-hot kernels sums every window's share at its position.
    /// </summary>
    private void MaxPool(Site n)
    {
        if (!n.Wants(0)) return;
        var x = n.InShape(0);
        var y = n.OutShape;
        var a = n.Node.Attributes;
        var k = a.GetInts("kernel_shape");
        if (x.Length != 4 || y.Length != 4 || k is not { Length: 2 }) throw n.Unsupported("only 2-D max pooling is differentiated");
        if (a.GetInt("storage_order", 0) != 0) throw n.Unsupported("column-major indices");
        var win = Window2D.Of(n.Node, (int)k[0], (int)k[1], x[2], x[3], y[2], y[3]);
        int extentH = (win.KernelH - 1) * win.DilationH + 1, extentW = (win.KernelW - 1) * win.DilationW + 1;
        if (extentW > x[3]) throw n.Unsupported("the window is wider than the input");
        string indices = _g.NewName("maxpool_indices");
        _g.NodeWithOutputs("MaxPool", new[] { n.X(0) }, new[] { _g.NewName("maxpool_values"), indices }, a.Protos.ToArray());
        if (extentH <= win.StrideH && extentW <= win.StrideW)
        {
            // The indices address X's own layout, so the output shape must be X's; trailing pads keep
            // MaxUnpool's own size bound ((out-1)*stride + kernel - pads) within it.
            long endH = Math.Max(0, (long)(y[2] - 1) * win.StrideH + win.KernelH - x[2]);
            long endW = Math.Max(0, (long)(y[3] - 1) * win.StrideW + win.KernelW - x[3]);
            n.Send(0, _g.Node("MaxUnpool", new[] { n.Dy, indices, _g.Int64s(x.Select(d => (long)d).ToArray()) },
                Attr.Ints("kernel_shape", win.KernelH, win.KernelW), Attr.Ints("strides", win.StrideH, win.StrideW), Attr.Ints("pads", 0, 0, endH, endW)));
            return;
        }
        int channels = x[1], inH = x[2], inW = x[3], outH = y[2], outW = y[3], taps = win.KernelH * win.KernelW;
        if (x[0] != 1) throw n.Unsupported($"batch {x[0]}");
        // Offset of the chosen element from its window's top-left corner (which may lie in the padding).
        var channelBase = new long[channels];
        for (int c = 0; c < channels; c++) channelBase[c] = (long)c * inH * inW;
        var cornerBase = new long[outH * outW];
        for (int r = 0; r < outH; r++)
            for (int col = 0; col < outW; col++)
                cornerBase[r * outW + col] = (long)win.RowStart(r) * inW + win.ColStart(col);
        string offset = Node("Sub", Node("Sub", indices, _g.Int64s(channelBase, new[] { 1, channels, 1, 1 })), _g.Int64s(cornerBase, new[] { 1, 1, outH, outW }));
        var tapOffsets = new long[taps];
        for (int u = 0; u < win.KernelH; u++)
            for (int v = 0; v < win.KernelW; v++)
                tapOffsets[u * win.KernelW + v] = (long)u * win.DilationH * inW + (long)v * win.DilationW;
        var shape5 = new long[] { 1, channels, 1, outH, outW };
        string hit = Node("Equal", _g.Node("Reshape", new[] { offset, _g.Int64s(shape5) }), _g.Int64s(tapOffsets, new[] { 1, 1, taps, 1, 1 }));
        string shares = Where(hit, _g.Node("Reshape", new[] { n.Dy, _g.Int64s(shape5) }), _g.Scalar(0));
        string planes = _g.Node("Reshape", new[] { shares, _g.Int64s(1, (long)channels * taps, outH, outW) });
        var oneHot = new float[channels * taps * taps];
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < taps; t++) oneHot[(c * taps + t) * taps + t] = 1;
        string kernels = _g.Floats(oneHot, new[] { channels * taps, 1, win.KernelH, win.KernelW });
        n.Send(0, _g.Node("ConvTranspose", new[] { planes, kernels }, TransposedWindow(win, x, y, channels)));
    }

    /// <summary>Each output's gradient is shared over its window's input positions (all kernel positions with count_include_pad).</summary>
    private void AveragePool(Site n)
    {
        if (!n.Wants(0)) return;
        var x = n.InShape(0);
        var y = n.OutShape;
        var k = n.Node.Attributes.GetInts("kernel_shape");
        if (x.Length != 4 || y.Length != 4 || k is not { Length: 2 }) throw n.Unsupported("only 2-D average pooling is differentiated");
        var win = Window2D.Of(n.Node, (int)k[0], (int)k[1], x[2], x[3], y[2], y[3]);
        bool includePad = n.Node.Attributes.GetInt("count_include_pad", 0) != 0;
        int channels = x[1], inH = x[2], inW = x[3], outH = y[2], outW = y[3];
        if (win.KernelH == 1 && win.KernelW == 1 && win.StrideH == 1 && win.StrideW == 1 && win.PadTop == 0 && win.PadLeft == 0 && Shapes.SameShape(x, y))
        {
            n.Send(0, n.Dy);
            return;
        }
        var share = new float[outH * outW];
        for (int r = 0; r < outH; r++)
            for (int col = 0; col < outW; col++)
            {
                int count = 0;
                for (int u = 0; u < win.KernelH; u++)
                    for (int v = 0; v < win.KernelW; v++)
                        if ((uint)(win.RowStart(r) + u * win.DilationH) < (uint)inH && (uint)(win.ColStart(col) + v * win.DilationW) < (uint)inW) count++;
                share[r * outW + col] = 1f / (includePad ? win.KernelH * win.KernelW : Math.Max(count, 1));
            }
        string scaled = Mul(n.Dy, _g.Floats(share, new[] { 1, 1, outH, outW }));
        var ones = new float[channels * win.KernelH * win.KernelW];
        Array.Fill(ones, 1f);
        string kernels = _g.Floats(ones, new[] { channels, 1, win.KernelH, win.KernelW });
        n.Send(0, _g.Node("ConvTranspose", new[] { scaled, kernels }, TransposedWindow(win, x, y, channels)));
    }

    /// <summary>A reduction of each channel to one value: its mean (the gradient spread evenly) or its first maximum.</summary>
    private void GlobalPool(Site n, bool max)
    {
        var x = n.InShape(0);
        if (x.Length < 2 || Shapes.ElementCount(n.OutShape) != x[1] || x[0] != 1)
            throw n.Unsupported("only a reduction over all spatial axes is differentiated");
        if (!n.Wants(0)) return;
        int channels = x[1], inner = (int)(Shapes.ElementCount(x) / channels);
        var column = new long[] { 1, channels, 1 };
        string dy = _g.Node("Reshape", new[] { n.Dy, _g.Int64s(column) });
        string spread;
        if (!max) spread = _g.Node("Expand", new[] { Mul(dy, _g.Scalar(1f / inner)), _g.Int64s(1, channels, inner) });
        else
        {
            string flat = _g.Node("Reshape", new[] { n.X(0), _g.Int64s(1, channels, inner) });
            string first = _g.Node("ArgMax", new[] { flat }, Attr.Int("axis", 2), Attr.Int("keepdims", 1));
            var positions = new long[inner];
            for (int i = 0; i < inner; i++) positions[i] = i;
            spread = Where(Node("Equal", first, _g.Int64s(positions, new[] { 1, 1, inner })), dy, _g.Scalar(0));
        }
        n.Send(0, _g.Node("Reshape", new[] { spread, _g.Int64s(x.Select(d => (long)d).ToArray()) }));
    }

    private void AddSub(Site n, bool subtract)
    {
        var y = n.OutShape;
        if (n.Wants(0)) n.Send(0, ReduceTo(n.Dy, y, n.InShape(0)));
        if (n.Wants(1)) n.Send(1, ReduceTo(subtract ? Node("Neg", n.Dy) : n.Dy, y, n.InShape(1)));
    }

    private void MulRule(Site n)
    {
        var y = n.OutShape;
        if (n.Wants(0)) n.Send(0, ReduceTo(Mul(n.Dy, n.X(1)), y, n.InShape(0)));
        if (n.Wants(1)) n.Send(1, ReduceTo(Mul(n.Dy, n.X(0)), y, n.InShape(1)));
    }

    private void Div(Site n)
    {
        if (n.IsData(1)) throw n.Unsupported("division by an activation is not differentiated");
        if (n.Wants(0)) n.Send(0, ReduceTo(Node("Div", n.Dy, n.X(1)), n.OutShape, n.InShape(0)));
    }

    private void Concat(Site n)
    {
        var y = n.OutShape;
        long axis = n.Node.Attributes.GetInt("axis", 1);
        if (axis < 0) axis += y.Length;
        long offset = 0;
        for (int i = 0; i < n.Node.Inputs.Count; i++)
        {
            if (n.Node.Inputs[i].Length == 0) continue;
            int size = n.InShape(i)[axis];
            if (n.Wants(i)) n.Send(i, _g.Node("Slice", new[] { n.Dy, _g.Int64s(offset), _g.Int64s(offset + size), _g.Int64s(axis) }));
            offset += size;
        }
    }

    private void Pad(Site n)
    {
        if (!n.Wants(0)) return;
        var x = n.InShape(0);
        long[] pads = n.Node.Attributes.GetInts("pads") ?? Constant(n, 1).ToInt64s();
        if (pads.Length != 2 * x.Length || pads.Any(p => p < 0)) throw n.Unsupported("only non-negative pads on every axis are differentiated");
        var starts = pads.Take(x.Length).ToArray();
        var ends = starts.Select((s, d) => s + x[d]).ToArray();
        var axes = Enumerable.Range(0, x.Length).Select(d => (long)d).ToArray();
        n.Send(0, _g.Node("Slice", new[] { n.Dy, _g.Int64s(starts), _g.Int64s(ends), _g.Int64s(axes) }));
    }
}
