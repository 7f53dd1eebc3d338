namespace CnnFixations.Imaging;

/// <summary>
/// The fixed-point Lanczos (a = 3) weights that resample one axis from <c>inSize</c> to <c>outSize</c>
/// samples. When shrinking, the kernel is widened by the shrink factor so that it also low-pass filters
/// (antialiasing). Output sample i reads input samples <see cref="First"/>[i] .. First[i] + Count[i] - 1;
/// its weights sum to one (before rounding to <see cref="FractionBits"/> fixed-point bits).
/// </summary>
internal sealed class LanczosWeights
{
    /// <summary>Fixed-point fraction bits: 8-bit samples times the weights stay inside an int.</summary>
    public const int FractionBits = 22;
    /// <summary>One half in fixed point: the starting value of a weighted sum, so that the final shift rounds.</summary>
    public const int Half = 1 << (FractionBits - 1);
    private const double Lobes = 3;

    private LanczosWeights(int[] first, int[] count, int[] weights, int stride)
    {
        First = first;
        Count = count;
        Weights = weights;
        Stride = stride;
    }

    public int[] First { get; }
    public int[] Count { get; }
    /// <summary>Weights of output sample i at [i * Stride, i * Stride + Count[i]).</summary>
    public int[] Weights { get; }
    public int Stride { get; }

    public static LanczosWeights Create(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double widen = Math.Max(scale, 1.0);
        double support = Lobes * widen;
        int stride = (int)Math.Ceiling(support) * 2 + 1;
        var first = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize * stride];
        var w = new double[stride];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int lo = Math.Max((int)(center - support + 0.5), 0);
            int hi = Math.Min((int)(center + support + 0.5), inSize);
            int n = hi - lo;
            double sum = 0;
            for (int k = 0; k < n; k++)
            {
                w[k] = Kernel((lo + k - center + 0.5) * (1.0 / widen));
                sum += w[k];
            }
            for (int k = 0; k < n; k++)
            {
                double normalized = sum != 0 ? w[k] / sum : w[k];
                double scaled = normalized * (1 << FractionBits);
                weights[o * stride + k] = (int)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
            }
            first[o] = lo;
            count[o] = n;
        }
        return new LanczosWeights(first, count, weights, stride);
    }

    /// <summary>sinc(x) * sinc(x / 3) on [-3, 3), zero elsewhere.</summary>
    internal static double Kernel(double x) =>
        x >= -Lobes && x < Lobes ? Sinc(x) * Sinc(x / Lobes) : 0.0;

    private static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    /// <summary>A fixed-point weighted sum (with the rounding half already added) as a byte: floor, then clamp.</summary>
    public static byte ToByte(int accumulator)
    {
        int v = accumulator >> FractionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}
