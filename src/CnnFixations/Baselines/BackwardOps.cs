using System.Numerics.Tensors;
using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Baselines;

/// <summary>The backward (vector-Jacobian) rule of each op family the baselines differentiate through.</summary>
internal static class BackwardOps
{
    /// <summary>Transpose: output gradient element o goes to input element i with i[perm[d]] = o[d].</summary>
    private static void Transpose(BackwardContext c)
    {
        var inShape = c.Input(0).Shape;
        var outShape = c.Output.Shape;
        int rank = inShape.Length;
        var perm = c.Node.Attributes.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
        var inStride = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) { inStride[d] = s; s *= inShape[d]; }
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        Span<int> idx = stackalloc int[rank];
        for (int o = 0; o < dy.Length; o++)
        {
            Shapes.Unravel(o, outShape, idx);
            long i = 0;
            for (int d = 0; d < rank; d++) i += idx[d] * inStride[perm[d]];
            dx[(int)i] += dy[o];
        }
    }

    /// <summary>The ops with a backward rule here: <see cref="BackwardGraphRules.OpTypes"/> must be the same set.</summary>
    internal static IReadOnlyCollection<string> OpTypes => Rules.Keys;

    private static readonly Dictionary<string, Action<BackwardContext>> Rules = CreateRules();

    private static Dictionary<string, Action<BackwardContext>> CreateRules()
    {
        var rules = new Dictionary<string, Action<BackwardContext>>(StringComparer.Ordinal);
        void Add(Action<BackwardContext> rule, params string[] ops) { foreach (var op in ops) rules.Add(op, rule); }
        Add(c => { if (c.IsData(0)) TensorPrimitives.Add(c.InputGradient(0), c.OutputGradient, c.InputGradient(0)); },
            "Identity", "Dropout", "Cast", "DequantizeLinear", "QuantizeLinear", "Flatten", "Reshape", "Squeeze", "Unsqueeze");
        Add(c => { if (c.IsData(0)) Transpose(c); }, "Transpose");
        Add(c => Elementwise(c, (x, y) => x > 0 ? 1f : 0f), "Relu");
        Add(c => { float a = c.Node.Attributes.GetFloat("alpha", 0.01f); Elementwise(c, (x, y) => x > 0 ? 1f : a); }, "LeakyRelu");
        Add(Clip, "Clip");
        Add(c => Elementwise(c, (x, y) => y * (1 - y)), "Sigmoid");
        Add(c => Elementwise(c, (x, y) => 1 - y * y), "Tanh");
        Add(c =>
        {
            float a = c.Node.Attributes.GetFloat("alpha", 0.2f), b = c.Node.Attributes.GetFloat("beta", 0.5f);
            Elementwise(c, (x, y) => a * x + b is > 0 and < 1 ? a : 0f);
        }, "HardSigmoid");
        Add(c => Elementwise(c, (x, y) => x <= -3 ? 0f : x >= 3 ? 1f : (2 * x + 3) / 6f), "HardSwish");
        Add(BatchNorm, "BatchNormalization");
        Add(Softmax, "Softmax");
        Add(Gemm, "Gemm");
        Add(MatMul, "MatMul");
        Add(Conv, "Conv");
        Add(c => WindowPool(c, max: true), "MaxPool");
        Add(c => WindowPool(c, max: false), "AveragePool");
        Add(c => GlobalPool(c, max: false), "GlobalAveragePool", "ReduceMean");
        Add(c => GlobalPool(c, max: true), "GlobalMaxPool", "ReduceMax");
        Add(c => Binary(c, c.Node.OpType == "Sub" ? -1 : 1), "Add", "Sub");
        Add(Mul, "Mul");
        Add(Div, "Div");
        Add(Concat, "Concat");
        Add(Pad, "Pad");
        return rules;
    }

    public static void Apply(BackwardContext c)
    {
        var node = c.Node;
        if (!node.IsDefaultDomain) throw new UnsupportedOperatorException($"{node.Describe()}: no backward rule for domain '{node.Domain}'");
        if (!Rules.TryGetValue(node.OpType, out var rule))
            throw new UnsupportedOperatorException($"{node.Describe()}: op type {node.OpType} has no backward rule (needed for gradient-based methods)");
        rule(c);
    }

    private static void Elementwise(BackwardContext c, Func<float, float, float> derivative)
    {
        if (!c.IsData(0)) return;
        var x = c.Input(0).Data;
        var y = c.Output.Data;
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        for (int i = 0; i < dy.Length; i++) if (dy[i] != 0) dx[i] += dy[i] * derivative(x[i], y[i]);
    }

    private static void Clip(BackwardContext c)
    {
        float lo = float.NegativeInfinity, hi = float.PositiveInfinity;
        if (c.Node.Attributes.Has("min")) lo = c.Node.Attributes.GetFloat("min", lo);
        if (c.Node.Attributes.Has("max")) hi = c.Node.Attributes.GetFloat("max", hi);
        if (c.Node.InputOrNull(1) is { } mn) lo = c.Value(mn).Data[0];
        if (c.Node.InputOrNull(2) is { } mx) hi = c.Value(mx).Data[0];
        Elementwise(c, (x, y) => x > lo && x < hi ? 1f : 0f);
    }

    private static void BatchNorm(BackwardContext c)
    {
        if (!c.IsData(0)) return;
        var x = c.Input(0);
        var gamma = c.Input(1).Data;
        var variance = c.Input(4).Data;
        double eps = c.Node.Attributes.GetFloat("epsilon", 1e-5f);
        int channels = x.Shape[1], inner = x.Length / channels;
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        for (int ch = 0; ch < channels; ch++)
        {
            float s = (float)(gamma[ch] / Math.Sqrt(variance[ch] + eps));
            for (int i = ch * inner; i < (ch + 1) * inner; i++) dx[i] += dy[i] * s;
        }
    }

    private static void Softmax(BackwardContext c)
    {
        var y = c.Output;
        int axis = (int)c.Node.Attributes.GetInt("axis", -1);
        if (axis < 0) axis += y.Rank;
        int inner = 1;
        for (int d = axis + 1; d < y.Rank; d++) inner *= y.Shape[d];
        if (inner != 1) throw new UnsupportedOperatorException($"{c.Node.Describe()}: softmax over an inner axis is not differentiated");
        int n = y.Shape[axis], outer = y.Length / n;
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        for (int o = 0; o < outer; o++)
        {
            double dot = 0;
            for (int i = 0; i < n; i++) dot += (double)dy[o * n + i] * y.Data[o * n + i];
            for (int i = 0; i < n; i++) dx[o * n + i] += (float)(y.Data[o * n + i] * (dy[o * n + i] - dot));
        }
    }

    private static void Gemm(BackwardContext c)
    {
        var a = c.Node.Attributes;
        float alpha = a.GetFloat("alpha", 1f);
        bool transA = a.GetInt("transA", 0) != 0, transB = a.GetInt("transB", 0) != 0;
        if (!c.IsData(0) || c.IsData(1)) throw new UnsupportedOperatorException($"{c.Node.Describe()}: only data x constant Gemm is differentiated");
        var aVal = c.Input(0);
        var b = c.Input(1);
        int m = transA ? aVal.Shape[1] : aVal.Shape[0];
        int k = transA ? aVal.Shape[0] : aVal.Shape[1];
        int n = transB ? b.Shape[0] : b.Shape[1];
        if (m != 1) throw new UnsupportedOperatorException($"{c.Node.Describe()}: batch {m}");
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        for (int j = 0; j < n; j++)
        {
            float g = dy[j] * alpha;
            if (g == 0) continue;
            if (transB) TensorPrimitives.MultiplyAdd(b.Data.AsSpan(j * k, k), g, dx.AsSpan(0, k), dx.AsSpan(0, k));
            else for (int i = 0; i < k; i++) dx[i] += g * b.Data[i * n + j];
        }
    }

    private static void MatMul(BackwardContext c)
    {
        var dy = c.OutputGradient;
        if (c.IsData(0) && !c.IsData(1))
        {
            var w = c.Input(1);
            int k = w.Shape[0], n = w.Shape[1];
            var dx = c.InputGradient(0);
            if (dx.Length != k) throw new UnsupportedOperatorException($"{c.Node.Describe()}: only a single row times a matrix is differentiated");
            for (int i = 0; i < k; i++)
            {
                double s = 0;
                for (int j = 0; j < n; j++) s += (double)dy[j] * w.Data[i * n + j];
                dx[i] += (float)s;
            }
        }
        else if (!c.IsData(0) && c.IsData(1))
        {
            var w = c.Input(0);
            int n = w.Shape[0], k = w.Shape[1];
            var dx = c.InputGradient(1);
            for (int j = 0; j < n; j++)
                if (dy[j] != 0) TensorPrimitives.MultiplyAdd(w.Data.AsSpan(j * k, k), dy[j], dx.AsSpan(0, k), dx.AsSpan(0, k));
        }
        else throw new UnsupportedOperatorException($"{c.Node.Describe()}: a MatMul of two activations is not differentiated");
    }

    /// <summary>dX[k, row, col] += W[c, k, u, v] * dY[c, y, x], one (c, k, u, v) plane at a time (vectorized along x for stride 1).</summary>
    private static void Conv(BackwardContext c)
    {
        if (!c.IsData(0)) return;
        var xShape = c.Input(0).Shape;
        var w = c.Input(1);
        var yShape = c.Output.Shape;
        int cin = xShape[1], inH = xShape[2], inW = xShape[3];
        int cout = yShape[1], outH = yShape[2], outW = yShape[3];
        int group = (int)c.Node.Attributes.GetInt("group", 1);
        int cinG = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3], coutG = cout / group;
        var win = Window2D.Of(c.Node, kh, kw, inH, inW, outH, outW);
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        if (inH == 1 && inW == 1 && outH == 1 && outW == 1 && kh == 1 && kw == 1 && win.PadTop == 0 && win.PadLeft == 0)
        {
            MatrixVector(w.Data, dy, dx, cout, cinG, coutG);
            return;
        }
        for (int co = 0; co < cout; co++)
        {
            var dyPlane = dy.AsSpan(co * outH * outW, outH * outW);
            if (TensorPrimitives.MaxMagnitude(dyPlane) == 0) continue;
            int k0 = co / coutG * cinG;
            for (int k = 0; k < cinG; k++)
            {
                var dxPlane = dx.AsSpan((k0 + k) * inH * inW, inH * inW);
                for (int u = 0; u < kh; u++)
                    for (int v = 0; v < kw; v++)
                    {
                        float wt = w.Data[((co * cinG + k) * kh + u) * kw + v];
                        if (wt == 0) continue;
                        for (int y = 0; y < outH; y++)
                        {
                            int row = win.RowStart(y) + u * win.DilationH;
                            if ((uint)row >= (uint)inH) continue;
                            int col0 = win.ColStart(0) + v * win.DilationW;
                            // x range with 0 <= col0 + x*stride < inW
                            int xFirst = col0 >= 0 ? 0 : (-col0 + win.StrideW - 1) / win.StrideW;
                            int xLast = Math.Min(outW - 1, (inW - 1 - col0) / win.StrideW);
                            if (inW - 1 - col0 < 0 || xFirst > xLast) continue;
                            var dyRow = dyPlane.Slice(y * outW, outW);
                            if (win.StrideW == 1)
                            {
                                int len = xLast - xFirst + 1;
                                var target = dxPlane.Slice(row * inW + col0 + xFirst, len);
                                if (len < 8)
                                    // Short rows (a classifier's 1x1 planes): the same products and sums without a call per row.
                                    for (int i = 0; i < len; i++) target[i] += wt * dyRow[xFirst + i];
                                else
                                    TensorPrimitives.MultiplyAdd(dyRow.Slice(xFirst, len), wt, target, target);
                            }
                            else
                                for (int x = xFirst; x <= xLast; x++) dxPlane[row * inW + col0 + x * win.StrideW] += wt * dyRow[x];
                        }
                    }
            }
        }
    }

    /// <summary>
    /// A Conv on a 1x1 input with a 1x1 kernel (a classifier): <c>dx[k] += w[co, k] * dy[co]</c> over co in order,
    /// in vector lanes over k. The same sums as the loops above: a zero weight there is skipped, here it adds +0,
    /// which leaves a sum that started at +0 as it was.
    /// </summary>
    private static void MatrixVector(float[] w, float[] dy, float[] dx, int cout, int cinG, int coutG)
    {
        int n = System.Numerics.Vector<float>.Count;
        var zero = System.Numerics.Vector<float>.Zero;
        for (int co = 0; co < cout; co++)
        {
            float d = dy[co];
            if (Math.Abs(d) == 0) continue;
            var dv = new System.Numerics.Vector<float>(d);
            var row = w.AsSpan(co * cinG, cinG);
            var target = dx.AsSpan(co / coutG * cinG, cinG);
            int k = 0;
            for (; k <= cinG - n; k += n)
            {
                var wv = new System.Numerics.Vector<float>(row.Slice(k));
                var term = System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.Equals(wv, zero), zero, wv * dv);
                (new System.Numerics.Vector<float>(target.Slice(k)) + term).CopyTo(target.Slice(k));
            }
            for (; k < cinG; k++)
                if (row[k] != 0) target[k] += row[k] * d;
        }
    }

    private static void WindowPool(BackwardContext c, bool max)
    {
        var x = c.Input(0);
        int channels = x.Shape[1], inH = x.Shape[2], inW = x.Shape[3];
        var yShape = c.Output.Shape;
        int outH = yShape[2], outW = yShape[3];
        var k = c.Node.Attributes.GetInts("kernel_shape")!;
        var win = Window2D.Of(c.Node, (int)k[0], (int)k[1], inH, inW, outH, outW);
        bool includePad = c.Node.Attributes.GetInt("count_include_pad", 0) != 0;
        var dx = c.InputGradient(0);
        var dy = c.OutputGradient;
        for (int ch = 0; ch < channels; ch++)
            for (int y = 0; y < outH; y++)
                for (int xo = 0; xo < outW; xo++)
                {
                    float g = dy[(ch * outH + y) * outW + xo];
                    if (g == 0) continue;
                    int best = -1, count = 0;
                    float bestValue = float.NegativeInfinity;
                    for (int u = 0; u < win.KernelH; u++)
                    {
                        int row = win.RowStart(y) + u * win.DilationH;
                        if ((uint)row >= (uint)inH) continue;
                        for (int v = 0; v < win.KernelW; v++)
                        {
                            int col = win.ColStart(xo) + v * win.DilationW;
                            if ((uint)col >= (uint)inW) continue;
                            int idx = (ch * inH + row) * inW + col;
                            count++;
                            if (max) { if (best < 0 || x.Data[idx] > bestValue) { best = idx; bestValue = x.Data[idx]; } }
                        }
                    }
                    if (max) { if (best >= 0) dx[best] += g; continue; }
                    float share = g / (includePad ? win.KernelH * win.KernelW : Math.Max(count, 1));
                    for (int u = 0; u < win.KernelH; u++)
                    {
                        int row = win.RowStart(y) + u * win.DilationH;
                        if ((uint)row >= (uint)inH) continue;
                        for (int v = 0; v < win.KernelW; v++)
                        {
                            int col = win.ColStart(xo) + v * win.DilationW;
                            if ((uint)col < (uint)inW) dx[(ch * inH + row) * inW + col] += share;
                        }
                    }
                }
    }

    private static void GlobalPool(BackwardContext c, bool max)
    {
        var x = c.Input(0);
        int channels = x.Shape[1], inner = x.Length / channels;
        if (c.OutputGradient.Length != channels) throw new UnsupportedOperatorException($"{c.Node.Describe()}: only a reduction over all spatial axes is differentiated");
        var dx = c.InputGradient(0);
        for (int ch = 0; ch < channels; ch++)
        {
            float g = c.OutputGradient[ch];
            if (g == 0) continue;
            var plane = x.Data.AsSpan(ch * inner, inner);
            if (max) dx[ch * inner + TensorPrimitives.IndexOfMax(plane)] += g;
            else for (int i = 0; i < inner; i++) dx[ch * inner + i] += g / inner;
        }
    }

    /// <summary>Adds <paramref name="sign"/> * dY to each data input, summing over broadcast axes.</summary>
    private static void Binary(BackwardContext c, float sign)
    {
        var outShape = c.Output.Shape;
        for (int i = 0; i < 2; i++)
        {
            if (!c.IsData(i)) continue;
            float s = i == 1 ? sign : 1f;
            Reduce(c, i, outShape, (o, _) => s * c.OutputGradient[o]);
        }
    }

    private static void Mul(BackwardContext c)
    {
        var outShape = c.Output.Shape;
        var a = c.Input(0);
        var b = c.Input(1);
        if (c.IsData(0)) Reduce(c, 0, outShape, (o, _) => c.OutputGradient[o] * b.Data[Broadcast.MapIndex(o, outShape, b.Shape)]);
        if (c.IsData(1)) Reduce(c, 1, outShape, (o, _) => c.OutputGradient[o] * a.Data[Broadcast.MapIndex(o, outShape, a.Shape)]);
    }

    private static void Div(BackwardContext c)
    {
        if (c.IsData(1)) throw new UnsupportedOperatorException($"{c.Node.Describe()}: division by an activation is not differentiated");
        var outShape = c.Output.Shape;
        var b = c.Input(1);
        if (c.IsData(0)) Reduce(c, 0, outShape, (o, _) => c.OutputGradient[o] / b.Data[Broadcast.MapIndex(o, outShape, b.Shape)]);
    }

    private static void Reduce(BackwardContext c, int input, int[] outShape, Func<int, int, float> gradientAt)
    {
        var inShape = c.Input(input).Shape;
        var dx = c.InputGradient(input);
        for (int o = 0; o < c.OutputGradient.Length; o++)
        {
            float g = gradientAt(o, input);
            if (g != 0) dx[Broadcast.MapIndex(o, outShape, inShape)] += g;
        }
    }

    private static void Concat(BackwardContext c)
    {
        var outShape = c.Output.Shape;
        int rank = outShape.Length;
        long axis = c.Node.Attributes.GetInt("axis", 1);
        if (axis < 0) axis += rank;
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= outShape[d];
        for (int d = (int)axis + 1; d < rank; d++) inner *= outShape[d];
        int offset = 0;
        for (int i = 0; i < c.Node.Inputs.Count; i++)
        {
            if (c.Node.Inputs[i].Length == 0) continue;
            int size = c.Value(c.Node.Inputs[i]).Shape[axis];
            if (c.IsData(i))
            {
                var dx = c.InputGradient(i);
                for (int o = 0; o < outer; o++)
                {
                    var target = dx.AsSpan(o * size * inner, size * inner);
                    TensorPrimitives.Add(target, c.OutputGradient.AsSpan((o * outShape[axis] + offset) * inner, size * inner), target);
                }
            }
            offset += size;
        }
    }

    private static void Pad(BackwardContext c)
    {
        if (!c.IsData(0)) return;
        var inShape = c.Input(0).Shape;
        var outShape = c.Output.Shape;
        long[] pads = c.Node.Attributes.GetInts("pads") ?? c.Value(c.Node.Inputs[1]).Data.Select(v => (long)v).ToArray();
        int rank = inShape.Length;
        var dx = c.InputGradient(0);
        Span<int> idx = stackalloc int[rank];
        for (int o = 0; o < c.OutputGradient.Length; o++)
        {
            Shapes.Unravel(o, outShape, idx);
            int flat = 0;
            bool inside = true;
            for (int d = 0; d < rank && inside; d++)
            {
                long i = idx[d] - pads[d];
                inside = i >= 0 && i < inShape[d];
                flat = flat * inShape[d] + (int)i;
            }
            if (inside) dx[flat] += c.OutputGradient[o];
        }
    }
}
