using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// Vector arithmetic for contribution sums that gives bit-for-bit the scalar result: every product of
/// two float32 values is exact in float64, and each lane (one input channel) adds its products in the
/// same fixed tap order as the scalar loop, so only the order of independent lanes changes.
/// </summary>
internal static class ContributionKernels
{
    /// <summary>False forces the scalar loops (used by tests to check the vector path gives identical results).</summary>
    internal static bool Vectorized { get; set; } = true;

    /// <summary><c>sums[k] += a[k] * (double)w[k]</c> for every k.</summary>
    public static void AccumulateProducts(Span<double> sums, ReadOnlySpan<double> a, ReadOnlySpan<float> w)
    {
        int n = sums.Length;
        int k = 0;
        if (Vectorized && Vector256.IsHardwareAccelerated && n >= 8)
        {
            ref double s0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(sums);
            ref double a0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
            ref float w0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(w);
            for (; k <= n - 8; k += 8)
            {
                var wv = Vector256.LoadUnsafe(ref w0, (nuint)k);
                var (wLo, wHi) = Vector256.Widen(wv);
                var lo = Vector256.LoadUnsafe(ref s0, (nuint)k) + Vector256.LoadUnsafe(ref a0, (nuint)k) * wLo;
                var hi = Vector256.LoadUnsafe(ref s0, (nuint)(k + 4)) + Vector256.LoadUnsafe(ref a0, (nuint)(k + 4)) * wHi;
                lo.StoreUnsafe(ref s0, (nuint)k);
                hi.StoreUnsafe(ref s0, (nuint)(k + 4));
            }
        }
        for (; k < n; k++) sums[k] += a[k] * w[k];
    }
}
