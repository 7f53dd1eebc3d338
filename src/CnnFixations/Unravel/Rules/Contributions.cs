using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Contribution arithmetic with the spec's float64, fixed-order determinism. A product of two float32
/// values is exact in float64, so computing products in vector lanes changes nothing; sums are only
/// formed per input channel (one lane each), over the taps in the same u-then-v order as the scalar
/// loop. The vector and scalar paths therefore give bit-identical results (tests compare them).
/// </summary>
internal static class Contributions
{
    /// <summary>False forces the scalar loops (tests use it to check that both paths agree).</summary>
    internal static bool Vectorized { get; set; } = true;

    /// <summary>
    /// Index of the largest exact product <c>(double)a[i] * w[i] * sign</c> (sign +1 or -1), the first one on
    /// ties, never a NaN; -1 when every product is NaN or the spans are empty. Rounding to float is monotonic,
    /// so the exact maximum is among the products whose float value equals the largest float product: float
    /// vector lanes find that value, and only those candidates are compared exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int ArgmaxProduct(ReadOnlySpan<float> a, ReadOnlySpan<float> w, float sign = 1f)
    {
        int n = a.Length;
        if (w.Length < n) throw new ArgumentException("the weights are shorter than the activations");
        if (sign is not (1f or -1f)) throw new ArgumentOutOfRangeException(nameof(sign));
        if (!Vectorized || !Vector256.IsHardwareAccelerated || n < 16) return ArgmaxProductScalar(a, w, sign);
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float w0 = ref MemoryMarshal.GetReference(w);
        var s = Vector256.Create(sign);
        var max = Vector256.Create(float.NegativeInfinity);
        var ordered = Vector256<float>.AllBitsSet;
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            var p = Vector256.LoadUnsafe(ref a0, (nuint)i) * Vector256.LoadUnsafe(ref w0, (nuint)i) * s;
            ordered &= Vector256.Equals(p, p);
            max = Vector256.Max(max, p);
        }
        if (ordered != Vector256<float>.AllBitsSet) return ArgmaxProductScalar(a, w, sign); // a NaN product
        float top = float.NegativeInfinity;
        for (int l = 0; l < 8; l++) top = Math.Max(top, max.GetElement(l));
        for (; i < n; i++)
        {
            float p = a[i] * w[i] * sign;
            if (float.IsNaN(p)) return ArgmaxProductScalar(a, w, sign);
            if (p > top) top = p;
        }
        // Candidates: float product == top (+0 and -0 count as equal, as exact zeros do in the scalar scan).
        var t = Vector256.Create(top);
        int best = -1;
        double bestValue = double.NegativeInfinity;
        for (i = 0; i <= n - 8; i += 8)
        {
            var p = Vector256.LoadUnsafe(ref a0, (nuint)i) * Vector256.LoadUnsafe(ref w0, (nuint)i) * s;
            uint hits = Vector256.Equals(p, t).ExtractMostSignificantBits();
            while (hits != 0)
            {
                int j = i + System.Numerics.BitOperations.TrailingZeroCount(hits);
                hits &= hits - 1;
                double exact = (double)a[j] * w[j] * sign;
                if (best < 0 || exact > bestValue) { best = j; bestValue = exact; }
            }
        }
        for (; i < n; i++)
            if (a[i] * w[i] * sign == top)
            {
                double exact = (double)a[i] * w[i] * sign;
                if (best < 0 || exact > bestValue) { best = i; bestValue = exact; }
            }
        return best;
    }

    private static int ArgmaxProductScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> w, float sign)
    {
        int best = -1;
        double bestValue = double.NegativeInfinity;
        for (int i = 0; i < a.Length; i++)
        {
            double v = (double)a[i] * w[i] * sign;
            if (double.IsNaN(v)) continue;
            if (best < 0 || v > bestValue) { best = i; bestValue = v; }
        }
        return best;
    }

    /// <summary>
    /// Sets bit i of <paramref name="mask"/> (ORs into it) for every i whose exact product <c>a[i] * w[i]</c> is
    /// positive, decided by signs (both positive or both negative), which is exact even where a float
    /// product would underflow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OrPositiveProducts(ReadOnlySpan<float> a, ReadOnlySpan<float> w, Span<ulong> mask)
    {
        int n = a.Length, i = 0;
        if (w.Length < n || mask.Length < (n + 63) / 64) throw new ArgumentException("spans of different lengths");
        if (Vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float a0 = ref MemoryMarshal.GetReference(a);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            var zero = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var av = Vector256.LoadUnsafe(ref a0, (nuint)i);
                var wv = Vector256.LoadUnsafe(ref w0, (nuint)i);
                var positive = (Vector256.GreaterThan(av, zero) & Vector256.GreaterThan(wv, zero)) | (Vector256.LessThan(av, zero) & Vector256.LessThan(wv, zero));
                mask[i >> 6] |= (ulong)positive.ExtractMostSignificantBits() << (i & 63);
            }
        }
        for (; i < n; i++)
            if ((a[i] > 0 && w[i] > 0) || (a[i] < 0 && w[i] < 0)) mask[i >> 6] |= 1UL << (i & 63);
    }

    /// <summary>
    /// <c>sums[k] = sign * sum over taps t (in the given order) of (double)a[aOffsets[t] + k] * w[wOffsets[t] + k]</c>
    /// for a channel-last A and tap-major W, accumulated in registers for 8 channels at a time (a float
    /// product is exact in double, so a fused multiply-add rounds exactly as the scalar multiply then add),
    /// then the index of the largest sum as <see cref="Select.Argmax"/> gives it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int ArgmaxTapSums(ReadOnlySpan<float> a, ReadOnlySpan<int> aOffsets, ReadOnlySpan<float> w, ReadOnlySpan<int> wOffsets, double sign, Span<double> sums)
    {
        int n = sums.Length, taps = aOffsets.Length, k = 0;
        for (int t = 0; t < taps; t++)
            if (aOffsets[t] < 0 || aOffsets[t] + n > a.Length || wOffsets[t] < 0 || wOffsets[t] + n > w.Length)
                throw new ArgumentOutOfRangeException(nameof(aOffsets));
        if (Vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float a0 = ref MemoryMarshal.GetReference(a);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            ref double s0 = ref MemoryMarshal.GetReference(sums);
            var s = Vector256.Create(sign);
            for (; k <= n - 8; k += 8)
            {
                var lo = Vector256<double>.Zero;
                var hi = Vector256<double>.Zero;
                for (int t = 0; t < taps; t++)
                {
                    var (aLo, aHi) = Vector256.Widen(Vector256.LoadUnsafe(ref a0, (nuint)(aOffsets[t] + k)));
                    var (wLo, wHi) = Vector256.Widen(Vector256.LoadUnsafe(ref w0, (nuint)(wOffsets[t] + k)));
                    if (Fma.IsSupported)
                    {
                        lo = Fma.MultiplyAdd(aLo, wLo, lo);
                        hi = Fma.MultiplyAdd(aHi, wHi, hi);
                    }
                    else
                    {
                        lo += aLo * wLo;
                        hi += aHi * wHi;
                    }
                }
                if (sign != 1.0)
                {
                    lo *= s;
                    hi *= s;
                }
                lo.StoreUnsafe(ref s0, (nuint)k);
                hi.StoreUnsafe(ref s0, (nuint)(k + 4));
            }
        }
        for (; k < n; k++)
        {
            double sum = 0;
            for (int t = 0; t < taps; t++) sum += (double)a[aOffsets[t] + k] * w[wOffsets[t] + k];
            sums[k] = sign != 1.0 ? sum * sign : sum;
        }
        return Select.Argmax(sums);
    }

    /// <summary>
    /// [C,H,W] to [H,W,C] (channel-last), so that one position's channels are contiguous; with
    /// <paramref name="blocks"/>, only the blocks of 8 positions whose bit is set are copied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChannelLast(ReadOnlySpan<float> a, int channels, int plane, Span<float> result, ReadOnlySpan<ulong> blocks = default)
    {
        if (a.Length < channels * plane || result.Length < channels * plane) throw new ArgumentException("buffers smaller than the tensor");
        bool all = blocks.IsEmpty;
        int fullChannels = Avx.IsSupported ? channels & ~7 : 0;
        for (int p0 = 0; p0 < plane; p0 += 8)
        {
            int b = p0 >> 3;
            if (!all && (blocks[b >> 6] & (1UL << (b & 63))) == 0) continue;
            int count = Math.Min(8, plane - p0);
            int k = 0;
            if (count == 8)
                for (; k < fullChannels; k += 8) Transpose8x8(a, k * plane + p0, plane, result, p0 * channels + k, channels);
            for (; k < channels; k++)
            {
                var src = a.Slice(k * plane + p0, count);
                for (int j = 0; j < count; j++) result[(p0 + j) * channels + k] = src[j];
            }
        }
    }

    /// <summary>Rows r0..r7 (8 floats each, <paramref name="srcStride"/> apart) become columns of the destination.</summary>
    private static void Transpose8x8(ReadOnlySpan<float> src, int s, int srcStride, Span<float> dst, int d, int dstStride)
    {
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        var r0 = Vector256.LoadUnsafe(ref s0, (nuint)s);
        var r1 = Vector256.LoadUnsafe(ref s0, (nuint)(s + srcStride));
        var r2 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 2 * srcStride));
        var r3 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 3 * srcStride));
        var r4 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 4 * srcStride));
        var r5 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 5 * srcStride));
        var r6 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 6 * srcStride));
        var r7 = Vector256.LoadUnsafe(ref s0, (nuint)(s + 7 * srcStride));
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref d0, (nuint)d);
        Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref d0, (nuint)(d + dstStride));
        Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref d0, (nuint)(d + 2 * dstStride));
        Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref d0, (nuint)(d + 3 * dstStride));
        Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref d0, (nuint)(d + 4 * dstStride));
        Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref d0, (nuint)(d + 5 * dstStride));
        Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref d0, (nuint)(d + 6 * dstStride));
        Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref d0, (nuint)(d + 7 * dstStride));
    }
}

/// <summary>Runs a loop over [0, count) in contiguous chunks on several threads when the work is large enough to pay for it.</summary>
internal static class ParallelChunks
{
    /// <summary>Below this many multiply-adds a rule runs on the calling thread (tests lower it).</summary>
    internal static long MinWork { get; set; } = 200_000;

    public static void Run(int count, long work, int threads, Action<int, int> body)
    {
        int workers = threads <= 0 ? Environment.ProcessorCount : threads;
        if (workers <= 1 || count < 2 || work < MinWork)
        {
            body(0, count);
            return;
        }
        int chunks = Math.Min(count, workers * 4);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers },
            chunk => body((int)((long)count * chunk / chunks), (int)((long)count * (chunk + 1) / chunks)));
    }
}
