using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    /// <summary><c>products[i] = (double)a[i] * (double)w[i]</c>.</summary>
    public static void Products(ReadOnlySpan<float> a, ReadOnlySpan<float> w, Span<double> products)
    {
        int n = products.Length, i = 0;
        if (Vectorized && Vector256.IsHardwareAccelerated && n >= 8)
        {
            ref float a0 = ref MemoryMarshal.GetReference(a);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            ref double p0 = ref MemoryMarshal.GetReference(products);
            for (; i <= n - 8; i += 8)
            {
                var (aLo, aHi) = Vector256.Widen(Vector256.LoadUnsafe(ref a0, (nuint)i));
                var (wLo, wHi) = Vector256.Widen(Vector256.LoadUnsafe(ref w0, (nuint)i));
                (aLo * wLo).StoreUnsafe(ref p0, (nuint)i);
                (aHi * wHi).StoreUnsafe(ref p0, (nuint)(i + 4));
            }
        }
        for (; i < n; i++) products[i] = (double)a[i] * w[i];
    }

    /// <summary><c>sums[k] += (double)a[k] * (double)w[k]</c> for every k (one tap of every channel).</summary>
    public static void AccumulateProducts(Span<double> sums, ReadOnlySpan<float> a, ReadOnlySpan<float> w)
    {
        int n = sums.Length, k = 0;
        if (Vectorized && Vector256.IsHardwareAccelerated && n >= 8)
        {
            ref double s0 = ref MemoryMarshal.GetReference(sums);
            ref float a0 = ref MemoryMarshal.GetReference(a);
            ref float w0 = ref MemoryMarshal.GetReference(w);
            for (; k <= n - 8; k += 8)
            {
                var (aLo, aHi) = Vector256.Widen(Vector256.LoadUnsafe(ref a0, (nuint)k));
                var (wLo, wHi) = Vector256.Widen(Vector256.LoadUnsafe(ref w0, (nuint)k));
                (Vector256.LoadUnsafe(ref s0, (nuint)k) + aLo * wLo).StoreUnsafe(ref s0, (nuint)k);
                (Vector256.LoadUnsafe(ref s0, (nuint)(k + 4)) + aHi * wHi).StoreUnsafe(ref s0, (nuint)(k + 4));
            }
        }
        for (; k < n; k++) sums[k] += (double)a[k] * w[k];
    }

    /// <summary>[C,H,W] to [H,W,C] (channel-last), so that one position's channels are contiguous.</summary>
    public static void ChannelLast(ReadOnlySpan<float> a, int channels, int plane, Span<float> result)
    {
        for (int k = 0; k < channels; k++)
        {
            var src = a.Slice(k * plane, plane);
            for (int p = 0; p < plane; p++) result[p * channels + k] = src[p];
        }
    }
}
