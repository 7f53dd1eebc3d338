using CnnFixations.Baselines;
using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Unravel;

/// <summary>
/// The kernels of <see cref="PositiveShares"/> as ONNX nodes (<see cref="WeightedGraph"/>): the same shares, computed
/// by ONNX Runtime. With <c>x+ = max(x, 0)</c>, <c>x- = min(x, 0)</c> and the weights split the same way, the positive
/// contributions of an output are <c>S = W+ * x+ + W- * x-</c>; its weight R goes back as
/// <c>x+ . W+^T F + x- . W-^T F</c> with <c>F = R (1 - flat) / S</c> where S &gt; 0, plus the even share over its window.
/// </summary>
internal static class PositiveSharesGraph
{
    /// <summary>
    /// The weighted Conv rule for input <paramref name="input"/> of the step's node with constant kernels
    /// <paramref name="w"/> [cout, cin/group, kh, kw] (signs of a folded BatchNormalization already applied): returns
    /// the input's weights. <paramref name="flat"/> of each neuron's weight goes evenly over the in-bounds taps of its
    /// window and group channels, all of it when it has no positive contribution (unless <paramref name="evenFallback"/>
    /// is false: then nothing passes).
    /// </summary>
    public static string Conv(WeightedGraphStep step, int input, float[] w, int[] wShape, int group, Window2D win, int[] x, int[] y, double flat, bool evenFallback)
    {
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(w)) throw step.Unsupported("the kernels hold NaN or infinite values");
        int cout = wShape[0], cinG = wShape[1], kh = wShape[2], kw = wShape[3];
        int cin = x[1], inH = x[2], inW = x[3], outH = y[2], outW = y[3];
        string xa = step.Activation(input);
        bool nonNegative = step.NonNegative(input);
        bool negativePart = !nonNegative && w.Length > 0 && System.Numerics.Tensors.TensorPrimitives.Min<float>(w) < 0;
        string xp = nonNegative ? xa : step.Op("Relu", xa);
        string? xn = negativePart ? step.Op("Min", xa, step.Scalar(0)) : null;
        var g = step.G;
        float share = (float)(1 - flat);

        // A 1x1 convolution with stride 1 and no padding is a product of [cout, cin] and the [cin, H*W] planes: Gemm,
        // which keeps the plain layout (a Conv in ONNX Runtime reorders its input and output to a blocked layout).
        bool plain = kh == 1 && kw == 1 && group == 1 && win.StrideH == 1 && win.StrideW == 1 && win.PadTop == 0 && win.PadLeft == 0 && inH == outH && inW == outW;
        int plane = outH * outW;
        // The kernels' positive or negative part, written once into the constant (the weights are not copied on the way).
        string Kernels(TransposedWindow.Part part, int[] shape) => g.Floats(shape, d =>
        {
            if (part == TransposedWindow.Part.Positive) System.Numerics.Tensors.TensorPrimitives.Max(w, 0f, d);
            else System.Numerics.Tensors.TensorPrimitives.Min(w, 0f, d);
        });
        var matrices = new Dictionary<TransposedWindow.Part, string>();
        string Sums(string activation, TransposedWindow.Part part, bool tiny)
        {
            if (plain)
            {
                string matrix = matrices[part] = Kernels(part, new[] { cout, cin });
                var inputs = tiny ? new[] { matrix, step.Reshape(activation, new[] { cin, plane }), g.Scalar(Tiny) }
                    : new[] { matrix, step.Reshape(activation, new[] { cin, plane }) };
                return step.Op("Gemm", inputs);
            }
            var (bottom, right) = win.TrailingPads(inH, inW, outH, outW);
            var attributes = new[]
            {
                Attr.Ints("kernel_shape", kh, kw), Attr.Ints("strides", win.StrideH, win.StrideW), Attr.Ints("dilations", win.DilationH, win.DilationW),
                Attr.Ints("pads", win.PadTop, win.PadLeft, bottom, right), Attr.Int("group", group),
            };
            var bias = new float[cout];
            if (tiny) Array.Fill(bias, Tiny);
            return step.Op("Conv", new[] { activation, Kernels(part, wShape), g.Floats(bias, new[] { cout }) }, attributes);
        }
        string Back(string factor, TransposedWindow.Part part)
        {
            if (!plain) return TransposedWindow.Apply(g, factor, w, wShape, win, x, y, group, part, share);
            return step.Reshape(step.Op("Gemm", new[] { matrices[part], factor }, Attr.Int("transA", 1), Attr.Float("alpha", share)), x);
        }

        // S' = S + tiny > 0, so that F = R / S' needs no test: where S = 0 every contribution x_i w_i of the neuron is 0, and so is
        // what F sends back through them; where S > 0 the tiny term is below S's last bit.
        string sums = Sums(xp, TransposedWindow.Part.Positive, tiny: true);
        if (xn != null) sums = step.Op("Add", sums, Sums(xn, TransposedWindow.Part.Negative, tiny: false));
        string output = plain ? step.Reshape(step.Output, new[] { cout, plane }) : step.Output;
        string factor = step.Op("Div", output, sums);
        var parts = new List<string>();
        int fullParts = 0; // parts of the input's full shape (the even share of a group-1 Conv is one plane)
        if (share > 0)
        {
            parts.Add(step.Op("Mul", xp, Back(factor, TransposedWindow.Part.Positive)));
            if (xn != null) parts.Add(step.Op("Mul", xn, Back(factor, TransposedWindow.Part.Negative)));
            fullParts = parts.Count;
        }
        if (evenFallback)
        {
            // The even part of R: flat where S > 0, all of it where S = 0. With F = R / (S + tiny), tiny F is R where S = 0 and
            // below R's last bit where S > 0 (R tiny / S), so the even part is flat R + share tiny F, without a test. Then
            // 1 / (in-bounds taps x group channels) of it goes to each tap of the window.
            var inverse = new float[plane];
            for (int r = 0; r < outH; r++)
                for (int c = 0; c < outW; c++)
                {
                    int rows = 0, cols = 0;
                    for (int u = 0; u < kh; u++) if ((uint)(win.RowStart(r) + u * win.DilationH) < (uint)inH) rows++;
                    for (int v = 0; v < kw; v++) if ((uint)(win.ColStart(c) + v * win.DilationW) < (uint)inW) cols++;
                    inverse[r * outW + c] = rows * cols == 0 ? 0 : (float)(1.0 / ((double)rows * cols * cinG));
                }
            float deadScale = share * Tiny;
            if (group == 1)
            {
                // Every input channel gets the same even share: the sum over output channels, scattered once (one plane, broadcast below).
                int[] planeShape = { 1, 1, outH, outW };
                long axis = plain ? 0 : 1;
                string? total = null;
                if (flat > 0)
                    total = step.Op("Mul", step.Reshape(step.ReduceSum(output, new[] { axis }, keepDims: true), planeShape), g.Floats(inverse.Select(v => (float)(flat * v)).ToArray(), planeShape));
                if (deadScale > 0)
                {
                    string dead = step.Op("Mul", step.Reshape(step.ReduceSum(factor, new[] { axis }, keepDims: true), planeShape), g.Floats(inverse.Select(v => deadScale * v).ToArray(), planeShape));
                    total = total == null ? dead : step.Op("Add", total, dead);
                }
                var kernel = new float[kh * kw];
                Array.Fill(kernel, 1f);
                if (total != null)
                    // A 1x1 window with stride 1 and no padding scatters a plane onto itself.
                    parts.Add(plain ? total : TransposedWindow.Apply(g, total, kernel, new[] { 1, 1, kh, kw }, win, new[] { 1, 1, inH, inW }, planeShape, 1));
            }
            else
            {
                int[] planeShape = { 1, 1, outH, outW };
                string? even = flat > 0 ? step.Op("Mul", output, g.Floats(inverse.Select(v => (float)(flat * v)).ToArray(), planeShape)) : null;
                if (deadScale > 0)
                {
                    string dead = step.Op("Mul", factor, g.Floats(inverse.Select(v => deadScale * v).ToArray(), planeShape));
                    even = even == null ? dead : step.Op("Add", even, dead);
                }
                if (even != null)
                {
                    var ones = new float[(long)cout * cinG * kh * kw];
                    Array.Fill(ones, 1f);
                    parts.Add(TransposedWindow.Apply(g, even, ones, wShape, win, x, y, group));
                    fullParts++;
                }
            }
        }
        if (parts.Count == 0) return g.Floats(new float[Shapes.ElementCount(x)], x);
        // Pairwise Add: ONNX Runtime's Add broadcasts a plane fast, its Sum does not.
        string sum = parts[0];
        for (int i = 1; i < parts.Count; i++) sum = step.Op("Add", sum, parts[i]);
        return fullParts > 0 ? sum : step.Op("Expand", sum, g.Int64s(x.Select(d => (long)d).ToArray()));
    }

    /// <summary>Added to the positive totals so that dividing by them needs no test (see <see cref="Conv"/>).</summary>
    internal const float Tiny = 1e-30f;

    /// <summary>
    /// A fully connected layer with rows <paramref name="rows"/> [n, k] (output j = row j . x): the weights of input
    /// column <paramref name="xColumn"/> [k,1] from output column <paramref name="rColumn"/> [n,1]; nothing passes without
    /// a positive contribution. The weight matrix is Gemm's first operand in both products (transposed for the second),
    /// so ONNX Runtime keeps one copy of it (it packs a constant second operand once per orientation).
    /// </summary>
    public static string FullyConnected(WeightedGraphStep step, int input, string xColumn, string rColumn, float[] rows, int n, int k)
    {
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(rows)) throw step.Unsupported("the weights hold NaN or infinite values");
        bool nonNegative = step.NonNegative(input);
        var wp = new float[rows.Length];
        System.Numerics.Tensors.TensorPrimitives.Max(rows, 0f, wp);
        float[]? wn = null;
        if (!nonNegative)
        {
            wn = new float[rows.Length];
            System.Numerics.Tensors.TensorPrimitives.Min(rows, 0f, wn);
            if (wn.Length == 0 || !(System.Numerics.Tensors.TensorPrimitives.Min<float>(wn) < 0)) wn = null;
        }
        string xp = nonNegative ? xColumn : step.Op("Relu", xColumn);
        string? xn = wn != null ? step.Op("Min", xColumn, step.Scalar(0)) : null;
        var g = step.G;
        string wpName = step.Weights(wp, new[] { n, k });
        string? wnName = wn != null ? step.Weights(wn, new[] { n, k }) : null;
        string sums = step.Op("Gemm", new[] { wpName, xp, g.Scalar(Tiny) });
        if (xn != null) sums = step.Op("Add", sums, step.Op("Gemm", new[] { wnName!, xn }));
        // As in Conv: S + tiny > 0, and an output with S = 0 sends nothing back through its zero contributions.
        string factor = step.Op("Div", rColumn, sums);
        string result = step.Op("Mul", xp, step.Op("Gemm", new[] { wpName, factor }, Attr.Int("transA", 1)));
        if (xn != null) result = step.Op("Add", result, step.Op("Mul", xn, step.Op("Gemm", new[] { wnName!, factor }, Attr.Int("transA", 1))));
        return result;
    }
}
