using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Unravel;

/// <summary>
/// The weighted Conv rule (<see cref="PositiveShares.Conv"/>) in vector registers, with the same float
/// operations in the same order per neuron as the plain loops of <see cref="PositiveShares.ConvReference"/>,
/// so that the results are the same bit for bit:
/// <list type="bullet">
/// <item>Pass 1 (each output neuron's positive contribution total <c>S</c>): over the taps (input channel,
/// u, v) in order, <c>S = S + c</c> (single precision) with <c>c = w * a</c> when that product is positive,
/// else +0. (The plain loops add <c>w * a+</c> or <c>w * a-</c> by the weight's sign, which is the same
/// product or a signed zero; adding a zero leaves a sum that started at +0 as it was. Taps outside the input
/// read zeros here, and add +0.)</item>
/// <item>The factor <c>R * (1 - flat) / S</c> and the even share <c>R * rest / taps</c> in double precision, rounded to single.</item>
/// <item>Pass 2 (transposed): each input neuron's sums <c>G+</c>, <c>G-</c> (positive and negative weights)
/// and <c>E</c> (even shares) over output channels, then taps, in order; it gains <c>a+ * G+ + a- * G- + E</c>.</item>
/// </list>
/// A 1x1 convolution with stride 1 and no padding runs both passes block by block of 4 vectors of positions
/// (every output and input channel of a block in cache; its lists of weights are made once per node); other convolutions copy their input into zero-padded
/// planes (split by column phase for a column stride above 1) so that every tap reads a contiguous run, and a
/// convolution with many groups (depthwise) runs group by group. Every sum is made by one thread, in the
/// same order whatever the thread count. A layer with an infinite weight runs in the plain loops (an infinite
/// weight times a padded zero would be NaN here where they multiply nothing).
/// </summary>
internal static class ConvShares
{
    /// <summary>Row strides are multiples of this many floats: whole vectors at every vector width up to 512 bits.</summary>
    private const int Align = 16;

    private static int Up(int n) => (n + Align - 1) / Align * Align;

    /// <summary>Positions per block: 4 vectors.</summary>
    private static int Block => 4 * Vector<float>.Count;

    public static void Run(float[] x, int cin, int inH, int inW, float[] w, int cout, int cinG, int kh, int kw, int group, Window2D window,
        int outH, int outW, float[]? sign, float[] output, float[] input, double flat, int threads, object? node = null)
    {
        // node: where the lists of a 1x1 convolution's weights are kept between walks (null: made for this call).
        int coutG = cout / group, outPlane = outH * outW;
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(w) && Array.Exists(w, float.IsInfinity))
        {
            // An infinite weight times a zero (a padded tap, an output without weight) is NaN where the plain
            // loops multiply nothing: they run such a layer.
            PositiveShares.ConvReference(x, cin, inH, inW, w, cout, cinG, kh, kw, group, window, outH, outW, sign, output, input, flat, threads, evenFallback: true);
            return;
        }
        var active = new bool[cout];
        bool anyActive = false;
        for (int o = 0; o < cout; o++) anyActive |= active[o] = AnyPositive(output.AsSpan(o * outPlane, outPlane));
        if (!anyActive) return;
        // The plain loops' share of a neuron with a positive total and the rest of its weight (1 - share), as they compute them.
        double share = 1 - flat, rest = 1 - share;
        var c = new Conv(x, cin, inH, inW, w, cout, cinG, coutG, kh, kw, group, window, outH, outW, sign, active, output, input, share, rest);
        bool whole = kh == 1 && kw == 1 && window.StrideH == 1 && window.StrideW == 1 && window.PadTop == 0 && window.PadLeft == 0 && inH == outH && inW == outW;
        if (whole)
        {
            Whole(c, threads, node);
            return;
        }
        int workers = threads <= 0 ? Environment.ProcessorCount : threads;
        if (group >= 2 * workers)
        {
            // Many groups (depthwise): each thread takes batches of groups whose planes fit in a core's cache
            // (about 64 K floats of input planes), one batch after the other.
            long perGroup = (long)cinG * (inH + kh) * (inW + kw + Block) + 2L * coutG * outH * (outW + kw + Block);
            int batch = (int)Math.Clamp(65536 / Math.Max(1, perGroup), 1, group);
            ParallelChunks.Run(group, (long)cout * cinG * kh * kw * outPlane, threads, (from, to) =>
            {
                for (int g = from; g < to; g += batch) Direct(c, g, Math.Min(to, g + batch), 1);
            });
        }
        else
            Direct(c, 0, group, threads);
    }

    private sealed record Conv(float[] X, int Cin, int InH, int InW, float[] W, int Cout, int CinG, int CoutG, int Kh, int Kw, int Group, Window2D Window,
        int OutH, int OutW, float[]? Sign, bool[] Active, float[] Output, float[] Input, double Share, double Rest)
    {
        public float Weight(int o, int kk, int u, int v) => (Sign?[o] ?? 1f) * W[((o * CinG + kk) * Kh + u) * Kw + v];
    }

    private static bool AnyPositive(ReadOnlySpan<float> values)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
                if (Vector.GreaterThanAny(new Vector<float>(values.Slice(i)), Vector<float>.Zero)) return true;
        for (; i < values.Length; i++)
            if (values[i] > 0) return true;
        return false;
    }

    /// <summary>
    /// The term lists of a 1x1 convolution, which depend on its weights only (not on the walk): pass 1 per output
    /// channel (input channel order, offsets into the positive or negative part of the input block), pass 2 per
    /// input channel (output channel order, offsets into the factor block), positive and negative weights apart,
    /// and per group every output channel (the even shares). Kept per node, with the weights they were made from.
    /// </summary>
    private sealed class WholeTerms(float[] w, float[]? sign, int block, Terms pass1, Terms pos, Terms neg, Terms even)
    {
        public Terms Pass1 => pass1;
        public Terms Pos => pos;
        public Terms Neg => neg;
        public Terms Even => even;

        /// <summary>Whether these lists were made from this weight array (the model's constant) with these signs.</summary>
        public bool Fits(float[] weights, float[]? signs, int blockSize) =>
            blockSize == block && ReferenceEquals(weights, w) && (signs == null ? sign == null : sign != null && signs.AsSpan().SequenceEqual(sign));

        /// <summary>Bytes held by the lists.</summary>
        public long Bytes => pass1.Bytes + pos.Bytes + neg.Bytes + even.Bytes;

        public static WholeTerms Make(Conv c, int block)
        {
            int cin = c.Cin, cout = c.Cout, cinG = c.CinG, coutG = c.CoutG;
            var pass1 = new Terms(cout, cout * cinG);
            var pos = new Terms(cin, cin * coutG);
            var neg = new Terms(cin, cin * coutG);
            var even = new Terms(c.Group, cout);
            for (int o = 0; o < cout; o++)
            {
                for (int kk = 0; kk < cinG; kk++)
                {
                    float wv = c.Weight(o, kk, 0, 0);
                    int k = o / coutG * cinG + kk;
                    if (wv != 0 && !float.IsNaN(wv)) pass1.Add((wv > 0 ? k : cin + k) * block, wv);
                }
                pass1.End();
            }
            for (int k = 0; k < cin; k++)
            {
                int g = k / cinG, kk = k % cinG;
                for (int o = g * coutG; o < (g + 1) * coutG; o++)
                {
                    float wv = c.Weight(o, kk, 0, 0);
                    if (wv > 0) pos.Add(o * block, wv);
                    else if (wv < 0) neg.Add(o * block, wv);
                }
                pos.End();
                neg.End();
            }
            for (int g = 0; g < c.Group; g++)
            {
                for (int o = g * coutG; o < (g + 1) * coutG; o++) even.Add(o * block, 0);
                even.End();
            }
            return new WholeTerms(c.W, (float[]?)c.Sign?.Clone(), block, pass1, pos, neg, even);
        }
    }

    private static readonly ConditionalWeakTable<object, WholeTerms> TermsOfNode = new();

    /// <summary>Lists are kept for nodes until they hold this many bytes in all (then later nodes make theirs per walk).</summary>
    private const long MaxKeptBytes = 64L << 20;

    private static long _keptBytes;

    /// <summary>A 1x1 convolution with stride 1 and no padding, block by block of positions.</summary>
    private static void Whole(Conv c, int threads, object? node)
    {
        int cin = c.Cin, cout = c.Cout, cinG = c.CinG, coutG = c.CoutG, group = c.Group, plane = c.OutH * c.OutW, block = Block, n = Vector<float>.Count;
        var active = c.Active;
        var floatPool = ArrayPool<float>.Shared;
        // Inactive output channels are in the pass 2 lists too: their factors and even shares are zeros, which add
        // w * 0 = ±0, nothing (the weights are finite here).
        WholeTerms? terms = null;
        if (node != null && TermsOfNode.TryGetValue(node, out var kept) && kept.Fits(c.W, c.Sign, block)) terms = kept;
        else
        {
            terms = WholeTerms.Make(c, block);
            if (node != null && Interlocked.Add(ref _keptBytes, terms.Bytes) <= MaxKeptBytes) TermsOfNode.AddOrUpdate(node, terms);
        }
        var (terms1, termsPos, termsNeg, termsEven) = (terms.Pass1, terms.Pos, terms.Neg, terms.Even);
        var touched = new bool[group];
        for (int o = 0; o < cout; o++) touched[o / coutG] |= active[o];
        {
            int blocks = (plane + block - 1) / block;
            var taps = new Vector<double>(cinG);
            ParallelChunks.Run(blocks, 2L * cout * cinG * plane, threads, (from, to) =>
            {
                var xs = floatPool.Rent(2 * cin * block); // positive parts of the block's inputs, then negative parts
                var fs = floatPool.Rent(cout * block);
                var es = floatPool.Rent(cout * block);
                var tail = new float[block];
                try
                {
                    ref float xRef = ref MemoryMarshal.GetArrayDataReference(xs);
                    ref float fRef = ref MemoryMarshal.GetArrayDataReference(fs);
                    ref float eRef = ref MemoryMarshal.GetArrayDataReference(es);
                    for (int b = from; b < to; b++)
                    {
                        int p0 = b * block, lanes = Math.Min(block, plane - p0);
                        for (int k = 0; k < cin; k++)
                            Split(c.X.AsSpan(k * plane + p0, lanes), xs.AsSpan(k * block, block), xs.AsSpan((cin + k) * block, block));
                        // Pass 1 and the shares of every active output neuron of the block.
                        for (int o = 0; o < cout; o++)
                        {
                            if (!active[o])
                            {
                                fs.AsSpan(o * block, block).Clear();
                                es.AsSpan(o * block, block).Clear();
                                continue;
                            }
                            Weighted4(ref xRef, terms1.Offsets(o), terms1.Weights(o), out var s0, out var s1, out var s2, out var s3);
                            ref float r = ref c.Output[o * plane + p0];
                            if (lanes < block)
                            {
                                tail.AsSpan().Clear();
                                c.Output.AsSpan(o * plane + p0, lanes).CopyTo(tail);
                                r = ref tail[0];
                            }
                            ref float f = ref Unsafe.Add(ref fRef, o * block);
                            ref float e = ref Unsafe.Add(ref eRef, o * block);
                            Shares(c, Vector.LoadUnsafe(ref r), s0, taps, taps, ref f, ref e, 0);
                            Shares(c, Vector.LoadUnsafe(ref r, (nuint)n), s1, taps, taps, ref f, ref e, n);
                            Shares(c, Vector.LoadUnsafe(ref r, (nuint)(2 * n)), s2, taps, taps, ref f, ref e, 2 * n);
                            Shares(c, Vector.LoadUnsafe(ref r, (nuint)(3 * n)), s3, taps, taps, ref f, ref e, 3 * n);
                        }
                        // Pass 2 for every input neuron of the block.
                        for (int g = 0; g < group; g++)
                        {
                            if (!touched[g]) continue;
                            Plain4(ref eRef, termsEven.Offsets(g), out var e0, out var e1, out var e2, out var e3);
                            for (int k = g * cinG; k < (g + 1) * cinG; k++)
                            {
                                Weighted4(ref fRef, termsPos.Offsets(k), termsPos.Weights(k), out var p0v, out var p1v, out var p2v, out var p3v);
                                Weighted4(ref fRef, termsNeg.Offsets(k), termsNeg.Weights(k), out var n0v, out var n1v, out var n2v, out var n3v);
                                ref float pos = ref Unsafe.Add(ref xRef, k * block);
                                ref float neg = ref Unsafe.Add(ref xRef, (cin + k) * block);
                                var t0 = Combine(ref pos, ref neg, 0, p0v, n0v, e0);
                                var t1 = Combine(ref pos, ref neg, n, p1v, n1v, e1);
                                var t2 = Combine(ref pos, ref neg, 2 * n, p2v, n2v, e2);
                                var t3 = Combine(ref pos, ref neg, 3 * n, p3v, n3v, e3);
                                if (lanes == block)
                                {
                                    ref float dst = ref c.Input[k * plane + p0];
                                    (Vector.LoadUnsafe(ref dst) + t0).StoreUnsafe(ref dst);
                                    (Vector.LoadUnsafe(ref dst, (nuint)n) + t1).StoreUnsafe(ref dst, (nuint)n);
                                    (Vector.LoadUnsafe(ref dst, (nuint)(2 * n)) + t2).StoreUnsafe(ref dst, (nuint)(2 * n));
                                    (Vector.LoadUnsafe(ref dst, (nuint)(3 * n)) + t3).StoreUnsafe(ref dst, (nuint)(3 * n));
                                }
                                else
                                {
                                    t0.CopyTo(tail);
                                    t1.CopyTo(tail, n);
                                    t2.CopyTo(tail, 2 * n);
                                    t3.CopyTo(tail, 3 * n);
                                    for (int j = 0; j < lanes; j++) c.Input[k * plane + p0 + j] += tail[j];
                                }
                            }
                        }
                    }
                }
                finally
                {
                    floatPool.Return(xs);
                    floatPool.Return(fs);
                    floatPool.Return(es);
                }
            });
        }
    }

    /// <summary>
    /// Groups <paramref name="g0"/> to <paramref name="g1"/> of any other convolution: the input copied into zero-padded
    /// planes, pass 1 with the shares row by row, pass 2 row by row and phase by phase.
    /// </summary>
    private static void Direct(Conv c, int g0, int g1, int threads)
    {
        var window = c.Window;
        int sh = window.StrideH, sw = window.StrideW, dh = window.DilationH, dw = window.DilationW, pt = window.PadTop, pl = window.PadLeft;
        int kh = c.Kh, kw = c.Kw, cinG = c.CinG, coutG = c.CoutG, inH = c.InH, inW = c.InW, outH = c.OutH, outW = c.OutW;
        int k0 = g0 * cinG, kCount = (g1 - g0) * cinG, o0 = g0 * coutG, oCount = (g1 - g0) * coutG;
        int block = Block, n = Vector<float>.Count;
        // Source planes [phase][row][column of the phase]: rows padded by pt above, columns by pl on the left.
        // Factor and even rows: outWr shares after mMax zeros (pass 2 reads a row shifted by up to mMax).
        int mMax = (kw - 1) * dw / sw;
        int outWr = (outW + block - 1) / block * block; // whole blocks: a block's stores stay within its row
        int phaseW = Math.Max(outWr + mMax, Up((pl + inW + sw - 1) / sw));
        int rows = Math.Max((outH - 1) * sh + (kh - 1) * dh + 1, pt + inH);
        int phasePlane = rows * phaseW, plane = sw * phasePlane;
        int rowF = mMax + phaseW, planeF = outH * rowF;
        long sourceLength = (long)kCount * plane + block, sharesLength = (long)oCount * planeF + block;
        if (sourceLength > Array.MaxLength || sharesLength > Array.MaxLength)
            throw new InsufficientMemoryException($"a Conv of {c.Cin}x{inH}x{inW} is too large for the weighted rules");

        // Tap counts per output column (in-bounds columns x cinG) and row.
        var colTaps = new double[outWr + block];
        for (int xo = 0; xo < outW; xo++)
        {
            int cols = 0;
            for (int v = 0; v < kw; v++) if ((uint)(window.ColStart(xo) + v * dw) < (uint)inW) cols++;
            colTaps[xo] = cols * cinG;
        }
        var rowTaps = new int[outH];
        for (int y = 0; y < outH; y++)
            for (int u = 0; u < kh; u++) if ((uint)(window.RowStart(y) + u * dh) < (uint)inH) rowTaps[y]++;

        var pool = ArrayPool<float>.Shared;
        var source = pool.Rent((int)sourceLength);
        var factor = pool.Rent((int)sharesLength);
        var even = pool.Rent((int)sharesLength);
        try
        {
            long work = (long)oCount * cinG * kh * kw * outH * outW;
            // The input, zero-padded.
            ParallelChunks.Run(kCount, work, threads, (from, to) =>
            {
                source.AsSpan(from * plane, (to - from) * plane).Clear();
                if (to == kCount) source.AsSpan(kCount * plane, block).Clear();
                for (int kr = from; kr < to; kr++)
                    for (int r = 0; r < inH; r++)
                    {
                        var src = c.X.AsSpan(((k0 + kr) * inH + r) * inW, inW);
                        if (sw == 1) src.CopyTo(source.AsSpan(kr * plane + (pt + r) * phaseW + pl));
                        else
                            for (int phase = 0; phase < sw; phase++)
                            {
                                // Columns col with (col + pl) % sw == phase, at phase column (col + pl) / sw.
                                int first = ((phase - pl) % sw + sw) % sw;
                                var dst = source.AsSpan(kr * plane + phase * phasePlane + (pt + r) * phaseW);
                                for (int col = first, j = (first + pl) / sw; col < inW; col += sw, j++) dst[j] = src[col];
                            }
                    }
            });

            // Pass 1 and the shares, per output channel and row.
            int taps = cinG * kh * kw;
            ParallelChunks.Run(oCount, work, threads, (from, to) =>
            {
                factor.AsSpan(from * planeF, (to - from) * planeF).Clear();
                even.AsSpan(from * planeF, (to - from) * planeF).Clear();
                if (to == oCount)
                {
                    factor.AsSpan(oCount * planeF, block).Clear();
                    even.AsSpan(oCount * planeF, block).Clear();
                }
                var offsets = new int[taps];
                var weights = new float[taps];
                var tail = new float[block];
                ref float src = ref MemoryMarshal.GetArrayDataReference(source);
                for (int orel = from; orel < to; orel++)
                {
                    int o = o0 + orel;
                    if (!c.Active[o]) continue;
                    int count = 0, kBase = o / coutG * cinG - k0;
                    for (int kk = 0; kk < cinG; kk++)
                        for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++)
                            {
                                float wv = c.Weight(o, kk, u, v);
                                if (wv == 0 || float.IsNaN(wv)) continue;
                                int q = v * dw;
                                offsets[count] = (kBase + kk) * plane + q % sw * phasePlane + u * dh * phaseW + q / sw;
                                weights[count++] = wv;
                            }
                    var off = offsets.AsSpan(0, count);
                    var wt = weights.AsSpan(0, count);
                    for (int y = 0; y < outH; y++)
                    {
                        var rowScale = new Vector<double>(rowTaps[y]);
                        int rIndex = (o * outH + y) * outW;
                        for (int x0 = 0; x0 < outWr; x0 += block)
                        {
                            Positive4(ref Unsafe.Add(ref src, y * sh * phaseW + x0), off, wt, out var s0, out var s1, out var s2, out var s3);
                            // The output weights of columns x0.. (zeros past the row: their tap counts are 0 anyway).
                            int lanes = Math.Min(block, outW - x0);
                            ref float r = ref tail[0];
                            if (lanes == block) r = ref c.Output[rIndex + x0];
                            else
                            {
                                tail.AsSpan().Clear();
                                if (lanes > 0) c.Output.AsSpan(rIndex + x0, lanes).CopyTo(tail);
                            }
                            int at = orel * planeF + y * rowF + mMax + x0;
                            ref float f = ref factor[at];
                            ref float e = ref even[at];
                            for (int i = 0; i < 4; i++)
                            {
                                var s = i switch { 0 => s0, 1 => s1, 2 => s2, _ => s3 };
                                var t = new Vector<double>(colTaps.AsSpan(x0 + i * n));
                                var t2 = new Vector<double>(colTaps.AsSpan(x0 + i * n + n / 2));
                                Shares(c, Vector.LoadUnsafe(ref r, (nuint)(i * n)), s, rowScale * t, rowScale * t2, ref f, ref e, i * n);
                            }
                        }
                    }
                }
            });

            // Pass 2, per input row and column phase. Output row of input row r through kernel row u (-1: none);
            // column phase and shift of kernel column v.
            int terms = coutG * kh * kw;
            var rowOf = new int[inH * kh];
            for (int r = 0; r < inH; r++)
                for (int u = 0; u < kh; u++)
                {
                    int t = r + pt - u * dh;
                    rowOf[r * kh + u] = t >= 0 && t % sh == 0 && t / sh < outH ? t / sh : -1;
                }
            var phaseOf = new int[kw];
            var shiftOf = new int[kw];
            for (int v = 0; v < kw; v++) (phaseOf[v], shiftOf[v]) = (v * dw % sw, v * dw / sw);
            ParallelChunks.Run(kCount, work, threads, (from, to) =>
            {
                int span = to - from;
                var posOffsets = new int[span * terms];
                var posWeights = new float[span * terms];
                var negOffsets = new int[span * terms];
                var negWeights = new float[span * terms];
                var posCount = new int[span];
                var negCount = new int[span];
                int gFirst = from / cinG, groups = (to - 1) / cinG - gFirst + 1;
                var evenOffsets = new int[groups * terms];
                var evenCount = new int[groups];
                var touched = new bool[groups];
                for (int gr = 0; gr < groups; gr++)
                    for (int o = (g0 + gFirst + gr) * coutG; o < (g0 + gFirst + gr + 1) * coutG; o++) touched[gr] |= c.Active[o];
                var result = new float[block];
                ref float f = ref MemoryMarshal.GetArrayDataReference(factor);
                ref float e = ref MemoryMarshal.GetArrayDataReference(even);
                ref float src = ref MemoryMarshal.GetArrayDataReference(source);
                for (int r = 0; r < inH; r++)
                    for (int phase = 0; phase < sw; phase++)
                    {
                        // Input columns of this phase: (col + pl) % sw == phase, at phase column j = (col + pl) / sw.
                        int jFirst = Math.Max(0, (pl - phase + sw - 1) / sw), jLast = (pl + inW - 1 - phase) / sw;
                        if (jLast < jFirst) continue;
                        for (int kr = from; kr < to; kr++)
                        {
                            int gr = kr / cinG - gFirst, kk = kr % cinG, i = kr - from;
                            posCount[i] = negCount[i] = 0;
                            if (!touched[gr]) continue;
                            bool firstOfGroup = kk == 0 || kr == from;
                            if (firstOfGroup) evenCount[gr] = 0;
                            int g = g0 + kr / cinG;
                            for (int o = g * coutG; o < (g + 1) * coutG; o++)
                            {
                                if (!c.Active[o]) continue;
                                for (int u = 0; u < kh; u++)
                                {
                                    int y = rowOf[r * kh + u];
                                    if (y < 0) continue;
                                    int rowAt = (o - o0) * planeF + y * rowF + mMax;
                                    for (int v = 0; v < kw; v++)
                                    {
                                        if (phaseOf[v] != phase) continue;
                                        int at = rowAt - shiftOf[v]; // phase column j reads output column j - shift
                                        if (firstOfGroup) evenOffsets[gr * terms + evenCount[gr]++] = at;
                                        float wv = c.Weight(o, kk, u, v);
                                        if (wv > 0) { posOffsets[i * terms + posCount[i]] = at; posWeights[i * terms + posCount[i]++] = wv; }
                                        else if (wv < 0) { negOffsets[i * terms + negCount[i]] = at; negWeights[i * terms + negCount[i]++] = wv; }
                                    }
                                }
                            }
                        }
                        for (int j0 = jFirst; j0 <= jLast; j0 += block)
                        {
                            int lastGroup = -1;
                            Vector<float> e0 = default, e1 = default, e2 = default, e3 = default;
                            for (int kr = from; kr < to; kr++)
                            {
                                int gr = kr / cinG - gFirst, i = kr - from;
                                if (!touched[gr]) continue;
                                if (gr != lastGroup)
                                {
                                    lastGroup = gr;
                                    Plain4(ref Unsafe.Add(ref e, j0), evenOffsets.AsSpan(gr * terms, evenCount[gr]), out e0, out e1, out e2, out e3);
                                }
                                Weighted4(ref Unsafe.Add(ref f, j0), posOffsets.AsSpan(i * terms, posCount[i]), posWeights.AsSpan(i * terms, posCount[i]),
                                    out var p0, out var p1, out var p2, out var p3);
                                Weighted4(ref Unsafe.Add(ref f, j0), negOffsets.AsSpan(i * terms, negCount[i]), negWeights.AsSpan(i * terms, negCount[i]),
                                    out var n0, out var n1, out var n2, out var n3);
                                ref float a = ref Unsafe.Add(ref src, kr * plane + phase * phasePlane + (pt + r) * phaseW + j0);
                                int dstRow = ((k0 + kr) * inH + r) * inW, last = Math.Min(jLast, j0 + block - 1);
                                if (sw == 1 && last == j0 + block - 1)
                                {
                                    // A whole block of consecutive input columns.
                                    ref float dst = ref c.Input[dstRow + j0 - pl];
                                    (Vector.LoadUnsafe(ref dst) + Combine(ref a, 0, p0, n0, e0)).StoreUnsafe(ref dst);
                                    (Vector.LoadUnsafe(ref dst, (nuint)n) + Combine(ref a, n, p1, n1, e1)).StoreUnsafe(ref dst, (nuint)n);
                                    (Vector.LoadUnsafe(ref dst, (nuint)(2 * n)) + Combine(ref a, 2 * n, p2, n2, e2)).StoreUnsafe(ref dst, (nuint)(2 * n));
                                    (Vector.LoadUnsafe(ref dst, (nuint)(3 * n)) + Combine(ref a, 3 * n, p3, n3, e3)).StoreUnsafe(ref dst, (nuint)(3 * n));
                                    continue;
                                }
                                Combine(ref a, 0, p0, n0, e0).CopyTo(result);
                                Combine(ref a, n, p1, n1, e1).CopyTo(result, n);
                                Combine(ref a, 2 * n, p2, n2, e2).CopyTo(result, 2 * n);
                                Combine(ref a, 3 * n, p3, n3, e3).CopyTo(result, 3 * n);
                                for (int j = j0; j <= last; j++) c.Input[dstRow + j * sw + phase - pl] += result[j - j0];
                            }
                        }
                    }
            });
        }
        finally
        {
            pool.Return(source);
            pool.Return(factor);
            pool.Return(even);
        }
    }

    /// <summary>
    /// The shares of one vector of output neurons (weights <paramref name="r"/>, positive totals <paramref name="s"/>,
    /// in-bounds tap counts <paramref name="tapsLo"/>, <paramref name="tapsHi"/>) into <c>f[offset..]</c>, <c>e[offset..]</c>,
    /// computed as the plain loops do: <c>(float)(r * share / s)</c> when <c>s</c> is positive and finite, and
    /// <c>(float)(r * rest / taps)</c> (rest 1 when <c>s</c> is not) when positive; zero where <c>r</c> or the tap count is not positive.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Shares(Conv c, Vector<float> r, Vector<float> s, Vector<double> tapsLo, Vector<double> tapsHi, ref float f, ref float e, int offset)
    {
        Vector.Widen(r, out var rLo, out var rHi);
        Vector.Widen(s, out var sLo, out var sHi);
        Shares(rLo, sLo, tapsLo, c.Share, c.Rest, out var fLo, out var eLo);
        Shares(rHi, sHi, tapsHi, c.Share, c.Rest, out var fHi, out var eHi);
        Vector.Narrow(fLo, fHi).StoreUnsafe(ref f, (nuint)offset);
        Vector.Narrow(eLo, eHi).StoreUnsafe(ref e, (nuint)offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Shares(Vector<double> r, Vector<double> s, Vector<double> taps, double share, double rest, out Vector<double> f, out Vector<double> e)
    {
        var zero = Vector<double>.Zero;
        var valid = Vector.GreaterThan(r, zero) & Vector.GreaterThan(taps, zero);
        var finite = Vector.GreaterThan(s, zero) & ~Vector.Equals(s, new Vector<double>(double.PositiveInfinity));
        f = share > 0 ? Vector.ConditionalSelect(valid & finite, r * new Vector<double>(share) / s, zero) : zero;
        var remaining = Vector.ConditionalSelect(finite, r * new Vector<double>(rest), r * Vector<double>.One);
        e = Vector.ConditionalSelect(valid & Vector.GreaterThan(remaining, zero), remaining / taps, zero);
    }

    /// <summary>The positive and negative parts of <paramref name="x"/> (NaN and ±0: +0 in both), zeros past its end.</summary>
    private static void Split(ReadOnlySpan<float> x, Span<float> pos, Span<float> neg)
    {
        int i = 0, n = Vector<float>.Count;
        var zero = Vector<float>.Zero;
        for (; i <= x.Length - n; i += n)
        {
            var v = new Vector<float>(x.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(v, zero), v, zero).CopyTo(pos.Slice(i));
            Vector.ConditionalSelect(Vector.LessThan(v, zero), v, zero).CopyTo(neg.Slice(i));
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            pos[i] = v > 0 ? v : 0;
            neg[i] = v < 0 ? v : 0;
        }
        pos.Slice(x.Length).Clear();
        neg.Slice(x.Length).Clear();
    }

    /// <summary><c>pos * gPos + neg * gNeg + gEven</c> for one vector of inputs split into parts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Combine(ref float pos, ref float neg, int offset, Vector<float> gPos, Vector<float> gNeg, Vector<float> gEven) =>
        Vector.LoadUnsafe(ref pos, (nuint)offset) * gPos + Vector.LoadUnsafe(ref neg, (nuint)offset) * gNeg + gEven;

    /// <summary><c>a+ * gPos + a- * gNeg + gEven</c> for one vector of inputs <c>a</c> (NaN counts as neither part).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Combine(ref float a, int offset, Vector<float> gPos, Vector<float> gNeg, Vector<float> gEven)
    {
        var v = Vector.LoadUnsafe(ref a, (nuint)offset);
        var zero = Vector<float>.Zero;
        var pos = Vector.ConditionalSelect(Vector.GreaterThan(v, zero), v, zero);
        var neg = Vector.ConditionalSelect(Vector.LessThan(v, zero), v, zero);
        return pos * gPos + neg * gNeg + gEven;
    }

    /// <summary>The sums from +0, over the terms in order, of <c>max(+0, weights[t] * at[offsets[t] ..])</c> (a product that is not positive adds +0), 4 vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Positive4(ref float at, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights,
        out Vector<float> a0, out Vector<float> a1, out Vector<float> a2, out Vector<float> a3)
    {
        int n = Vector<float>.Count;
        var zero = Vector<float>.Zero;
        Vector<float> s0 = zero, s1 = zero, s2 = zero, s3 = zero; // locals stay in registers (out parameters are references)
        for (int t = 0; t < offsets.Length; t++)
        {
            var wv = new Vector<float>(weights[t]);
            ref float p = ref Unsafe.Add(ref at, offsets[t]);
            var c0 = wv * Vector.LoadUnsafe(ref p);
            var c1 = wv * Vector.LoadUnsafe(ref p, (nuint)n);
            var c2 = wv * Vector.LoadUnsafe(ref p, (nuint)(2 * n));
            var c3 = wv * Vector.LoadUnsafe(ref p, (nuint)(3 * n));
            s0 += Vector.ConditionalSelect(Vector.GreaterThan(c0, zero), c0, zero);
            s1 += Vector.ConditionalSelect(Vector.GreaterThan(c1, zero), c1, zero);
            s2 += Vector.ConditionalSelect(Vector.GreaterThan(c2, zero), c2, zero);
            s3 += Vector.ConditionalSelect(Vector.GreaterThan(c3, zero), c3, zero);
        }
        (a0, a1, a2, a3) = (s0, s1, s2, s3);
    }

    /// <summary>The sums from +0, over the terms in order, of <c>weights[t] * at[offsets[t] ..]</c>, 4 vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Weighted4(ref float at, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights,
        out Vector<float> a0, out Vector<float> a1, out Vector<float> a2, out Vector<float> a3)
    {
        int n = Vector<float>.Count;
        Vector<float> s0 = Vector<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (int t = 0; t < offsets.Length; t++)
        {
            var wv = new Vector<float>(weights[t]);
            ref float p = ref Unsafe.Add(ref at, offsets[t]);
            s0 += wv * Vector.LoadUnsafe(ref p);
            s1 += wv * Vector.LoadUnsafe(ref p, (nuint)n);
            s2 += wv * Vector.LoadUnsafe(ref p, (nuint)(2 * n));
            s3 += wv * Vector.LoadUnsafe(ref p, (nuint)(3 * n));
        }
        (a0, a1, a2, a3) = (s0, s1, s2, s3);
    }

    /// <summary>The sums from +0, over the terms in order, of <c>at[offsets[t] ..]</c>, 4 vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Plain4(ref float at, ReadOnlySpan<int> offsets, out Vector<float> a0, out Vector<float> a1, out Vector<float> a2, out Vector<float> a3)
    {
        int n = Vector<float>.Count;
        Vector<float> s0 = Vector<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (int t = 0; t < offsets.Length; t++)
        {
            ref float p = ref Unsafe.Add(ref at, offsets[t]);
            s0 += Vector.LoadUnsafe(ref p);
            s1 += Vector.LoadUnsafe(ref p, (nuint)n);
            s2 += Vector.LoadUnsafe(ref p, (nuint)(2 * n));
            s3 += Vector.LoadUnsafe(ref p, (nuint)(3 * n));
        }
        (a0, a1, a2, a3) = (s0, s1, s2, s3);
    }

    /// <summary>Lists of terms (offset, weight), one list after the other.</summary>
    private sealed class Terms(int lists, int capacity)
    {
        private readonly int[] _offsets = new int[capacity], _starts = new int[lists + 1];
        private readonly float[] _weights = new float[capacity];
        private int _count, _lists;

        public void Add(int offset, float weight)
        {
            _offsets[_count] = offset;
            _weights[_count++] = weight;
        }

        /// <summary>Ends the current list.</summary>
        public void End() => _starts[++_lists] = _count;

        public long Bytes => 4L * (_offsets.Length + _starts.Length + _weights.Length);

        public ReadOnlySpan<int> Offsets(int list) => _offsets.AsSpan(_starts[list], _starts[list + 1] - _starts[list]);
        public ReadOnlySpan<float> Weights(int list) => _weights.AsSpan(_starts[list], _starts[list + 1] - _starts[list]);
    }
}
