using System.Numerics.Tensors;
using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Unravel;

/// <summary>
/// The kernels of the weighted rules: each output neuron's weight is shared among its inputs in
/// proportion to their positive contributions <c>max(0, a_i * w_i)</c>, mixed with an even share over the
/// in-bounds window. Sums run in a fixed order (per output over channels, taps and rows; per input over
/// outputs), so the result does not depend on the thread count.
/// </summary>
internal static class PositiveShares
{
    /// <summary>
    /// A 2-D Conv: <paramref name="output"/> [cout,outH,outW] weights onto <paramref name="input"/> [cin,inH,inW].
    /// <paramref name="sign"/> (per output channel, null: all +1) flips a channel whose folded BatchNormalization scale is negative.
    /// </summary>
    public static void Conv(float[] x, int cin, int inH, int inW, float[] w, int cout, int cinG, int kh, int kw, int group, Window2D window,
        int outH, int outW, float[]? sign, float[] output, float[] input, double flat, int threads, bool evenFallback = true, object? node = null)
    {
        // A 1x1 output (fully connected form) has one position per plane: the plain loops do as well there.
        if (ReferenceConv || outH * outW == 1 || !evenFallback)
            ConvReference(x, cin, inH, inW, w, cout, cinG, kh, kw, group, window, outH, outW, sign, output, input, flat, threads, evenFallback);
        else
            ConvShares.Run(x, cin, inH, inW, w, cout, cinG, kh, kw, group, window, outH, outW, sign, output, input, flat, threads, node);
    }

    /// <summary>Tests: run every Conv through the plain loops of <see cref="ConvReference"/>.</summary>
    internal static bool ReferenceConv { get; set; }

    /// <summary>The plain loops of the weighted Conv rule, the specification of <see cref="ConvShares"/> (same results, bit for bit).</summary>
    internal static void ConvReference(float[] x, int cin, int inH, int inW, float[] w, int cout, int cinG, int kh, int kw, int group, Window2D window,
        int outH, int outW, float[]? sign, float[] output, float[] input, double flat, int threads, bool evenFallback)
    {
        int inPlane = inH * inW, outPlane = outH * outW, coutG = cout / group;
        bool whole = WholePlane(window, kh, kw, inH, inW, outH, outW);
        var xPos = new float[x.Length];
        var xNeg = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            if (v > 0) xPos[i] = v;
            else if (v < 0) xNeg[i] = v;
        }
        // Which output channels carry weight (others are skipped in both passes).
        var active = new bool[cout];
        for (int o = 0; o < cout; o++)
            for (int p = 0; p < outPlane; p++)
                if (output[o * outPlane + p] > 0) { active[o] = true; break; }

        // Pass 1: the positive contribution total S of every output neuron.
        var sums = new float[cout * outPlane];
        long work = (long)cout * cinG * kh * kw * outPlane;
        ParallelChunks.Run(cout, work, threads, (from, to) =>
        {
            for (int o = from; o < to; o++)
            {
                if (!active[o]) continue;
                int g = o / coutG;
                float sg = sign?[o] ?? 1f;
                var s = sums.AsSpan(o * outPlane, outPlane);
                for (int kk = 0; kk < cinG; kk++)
                {
                    int k = g * cinG + kk;
                    for (int u = 0; u < kh; u++)
                        for (int v = 0; v < kw; v++)
                        {
                            float wv = sg * w[((o * cinG + kk) * kh + u) * kw + v];
                            if (wv == 0 || float.IsNaN(wv)) continue;
                            var src = wv > 0 ? xPos : xNeg;
                            if (whole)
                            {
                                TensorPrimitives.MultiplyAdd(src.AsSpan(k * inPlane, inPlane), wv, s, s);
                                continue;
                            }
                            var (x0, length, colOffset) = Columns(window, v, inW, outW);
                            if (length <= 0) continue;
                            for (int y = 0; y < outH; y++)
                            {
                                int row = window.RowStart(y) + u * window.DilationH;
                                if ((uint)row >= (uint)inH) continue;
                                int outIndex = y * outW + x0, inIndex = k * inPlane + row * inW + x0 * window.StrideW + colOffset;
                                if (window.StrideW == 1) TensorPrimitives.MultiplyAdd(src.AsSpan(inIndex, length), wv, s.Slice(outIndex, length), s.Slice(outIndex, length));
                                else
                                    for (int t = 0; t < length; t++) s[outIndex + t] += wv * src[inIndex + t * window.StrideW];
                            }
                        }
                }
            }
        });

        // Per output neuron: the factor for its positive contributions and its even share per in-bounds input.
        var rowsIn = new int[outH];
        var colsIn = new int[outW];
        for (int y = 0; y < outH; y++)
            for (int u = 0; u < kh; u++) if ((uint)(window.RowStart(y) + u * window.DilationH) < (uint)inH) rowsIn[y]++;
        for (int xo = 0; xo < outW; xo++)
            for (int v = 0; v < kw; v++) if ((uint)(window.ColStart(xo) + v * window.DilationW) < (uint)inW) colsIn[xo]++;
        var factor = new float[cout * outPlane];
        var even = new float[cout * outPlane];
        bool anyEven = false;
        for (int o = 0; o < cout; o++)
        {
            if (!active[o]) continue;
            for (int y = 0; y < outH; y++)
                for (int xo = 0; xo < outW; xo++)
                {
                    int i = o * outPlane + y * outW + xo;
                    double r = output[i];
                    if (!(r > 0)) continue;
                    int taps = rowsIn[y] * colsIn[xo] * cinG;
                    if (taps == 0) continue;
                    double s = sums[i];
                    double share = s > 0 && !double.IsInfinity(s) ? 1 - flat : 0;
                    if (share == 0 && !evenFallback) continue; // fully connected form: nothing passes without a positive contribution
                    if (share > 0) factor[i] = (float)(r * share / s);
                    double rest = r * (1 - share);
                    if (rest > 0) { even[i] = (float)(rest / taps); anyEven = true; }
                }
        }

        // Pass 2: every input gathers from the outputs whose windows hold it (transposed convolution).
        long work2 = work;
        ParallelChunks.Run(cin, work2, threads, (from, to) =>
        {
            var gPos = new float[inPlane];
            var gNeg = new float[inPlane];
            var gEven = new float[inPlane];
            for (int k = from; k < to; k++)
            {
                int g = k / cinG, kk = k % cinG;
                Array.Clear(gPos);
                Array.Clear(gNeg);
                Array.Clear(gEven);
                bool touched = false;
                for (int o = g * coutG; o < (g + 1) * coutG; o++)
                {
                    if (!active[o]) continue;
                    touched = true;
                    float sg = sign?[o] ?? 1f;
                    var f = factor.AsSpan(o * outPlane, outPlane);
                    var e = even.AsSpan(o * outPlane, outPlane);
                    for (int u = 0; u < kh; u++)
                        for (int v = 0; v < kw; v++)
                        {
                            float wv = sg * w[((o * cinG + kk) * kh + u) * kw + v];
                            bool useW = wv != 0 && !float.IsNaN(wv);
                            var target = wv > 0 ? gPos : gNeg;
                            if (whole)
                            {
                                if (useW) TensorPrimitives.MultiplyAdd(f, wv, target, target);
                                if (anyEven) TensorPrimitives.Add(e, gEven, gEven);
                                continue;
                            }
                            var (x0, length, colOffset) = Columns(window, v, inW, outW);
                            if (length <= 0) continue;
                            for (int y = 0; y < outH; y++)
                            {
                                int row = window.RowStart(y) + u * window.DilationH;
                                if ((uint)row >= (uint)inH) continue;
                                int outIndex = y * outW + x0, inIndex = row * inW + x0 * window.StrideW + colOffset;
                                if (window.StrideW == 1)
                                {
                                    if (useW) TensorPrimitives.MultiplyAdd(f.Slice(outIndex, length), wv, target.AsSpan(inIndex, length), target.AsSpan(inIndex, length));
                                    if (anyEven) TensorPrimitives.Add(e.Slice(outIndex, length), gEven.AsSpan(inIndex, length), gEven.AsSpan(inIndex, length));
                                }
                                else
                                    for (int t = 0; t < length; t++)
                                    {
                                        int j = inIndex + t * window.StrideW;
                                        if (useW) target[j] += wv * f[outIndex + t];
                                        if (anyEven) gEven[j] += e[outIndex + t];
                                    }
                            }
                        }
                }
                if (!touched) continue;
                var dst = input.AsSpan(k * inPlane, inPlane);
                var pos = xPos.AsSpan(k * inPlane, inPlane);
                var neg = xNeg.AsSpan(k * inPlane, inPlane);
                for (int i = 0; i < inPlane; i++)
                    dst[i] += pos[i] * gPos[i] + neg[i] * gNeg[i] + gEven[i];
            }
        });
    }

    /// <summary>A 1x1 window with stride 1 and no padding: every output plane maps onto the input plane as one run.</summary>
    private static bool WholePlane(Window2D window, int kh, int kw, int inH, int inW, int outH, int outW) =>
        kh == 1 && kw == 1 && window.StrideH == 1 && window.StrideW == 1 && window.PadTop == 0 && window.PadLeft == 0 && inH == outH && inW == outW;

    private static (int X0, int Length, int ColOffset) Columns(Window2D window, int v, int inW, int outW)
    {
        int colOffset = v * window.DilationW - window.PadLeft;
        int x0 = colOffset >= 0 ? 0 : (-colOffset + window.StrideW - 1) / window.StrideW;
        int x1 = Math.Min(outW, inW - colOffset <= 0 ? 0 : (inW - colOffset - 1) / window.StrideW + 1);
        return (x0, x1 - x0, colOffset);
    }

    /// <summary>
    /// A fully connected layer y = W x with rows <paramref name="rows"/>[j*k .. j*k+k): input i receives
    /// <c>sum_j R_j * max(0, w_ji x_i) / S_j</c>. An output without positive contributions passes nothing.
    /// </summary>
    public static void FullyConnected(float[] x, float[] rows, int k, int n, float[] output, float[] input, double alpha = 1)
    {
        for (int j = 0; j < n; j++)
        {
            double r = output[j];
            if (!(r > 0)) continue;
            var row = rows.AsSpan(j * k, k);
            double s = 0;
            for (int i = 0; i < k; i++)
            {
                double t = alpha * row[i] * x[i];
                if (t > 0) s += t;
            }
            if (!(s > 0) || double.IsInfinity(s)) continue;
            double q = r / s;
            for (int i = 0; i < k; i++)
            {
                double t = alpha * row[i] * x[i];
                if (t > 0) input[i] += (float)(t * q);
            }
        }
    }

    /// <summary>
    /// Shares <paramref name="weight"/> among candidate inputs: in proportion to the positive values
    /// (<paramref name="max"/> false) or evenly among the largest ones (<paramref name="max"/> true);
    /// evenly among all when none is positive (or all are NaN).
    /// </summary>
    public static void Share(double weight, ReadOnlySpan<int> indices, float[] values, float[] input, bool max)
    {
        if (indices.Length == 0 || !(weight > 0)) return;
        if (max)
        {
            float best = float.NegativeInfinity;
            int count = 0;
            foreach (int i in indices)
            {
                float v = values[i];
                if (float.IsNaN(v)) continue;
                if (count == 0 || v > best) { best = v; count = 1; }
                else if (v == best) count++;
            }
            if (count > 0)
            {
                float part = (float)(weight / count);
                foreach (int i in indices) if (values[i] == best) input[i] += part;
                return;
            }
        }
        else
        {
            double total = 0;
            foreach (int i in indices) if (values[i] > 0) total += values[i];
            if (total > 0 && !double.IsInfinity(total))
            {
                foreach (int i in indices) if (values[i] > 0) input[i] += (float)(weight * values[i] / total);
                return;
            }
        }
        float evenPart = (float)(weight / indices.Length);
        foreach (int i in indices) input[i] += evenPart;
    }

    /// <summary>Adds the output's weights to the input, mapping each output index onto a (broadcast) input.</summary>
    public static void Through(float[] output, int[] outShape, float[] input, int[] inShape)
    {
        if (Shapes.ElementCount(inShape) == output.Length)
        {
            TensorPrimitives.Add(output, input, input);
            return;
        }
        for (int i = 0; i < output.Length; i++)
            if (output[i] > 0) input[Broadcast.MapIndex(i, outShape, inShape)] += output[i];
    }
}
