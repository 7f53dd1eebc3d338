using CnnFixations.Unravel.Rules;

namespace CnnFixations.Tests.Unravel;

/// <summary>
/// The vector kernels of <see cref="Contributions"/> against plain double loops written here from the
/// definitions (exact float products in double, first index on ties, NaN never chosen), on adversarial data:
/// products that round to the same float but differ exactly, signed zeros, NaN, overflow and underflow.
/// </summary>
[Collection("Contributions.Vectorized")]
public class ContributionKernelTests
{
    private static int ReferenceArgmax(float[] a, float[] w, double sign)
    {
        int best = -1;
        double bestValue = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double v = (double)a[i] * (double)w[i] * sign;
            if (double.IsNaN(v)) continue;
            if (best < 0 || v > bestValue) { best = i; bestValue = v; }
        }
        return best;
    }

    /// <summary>Random data of one of several adversarial kinds.</summary>
    private static (float[] A, float[] W) Case(Random random, int n, int kind)
    {
        var a = new float[n];
        var w = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = (float)(random.NextDouble() * 2 - 1);
            w[i] = (float)(random.NextDouble() * 2 - 1);
        }
        switch (kind)
        {
            case 1: // many products that round to the same float value but differ in double
                for (int i = 0; i < n; i += 1 + random.Next(3))
                {
                    a[i] = 1f + random.Next(1 << 20) * MathF.Pow(2, -23);
                    w[i] = (float)(0.75 / a[i]);
                }
                break;
            case 2: // only non-positive products, zeros of both signs
                for (int i = 0; i < n; i++)
                {
                    a[i] = random.Next(3) == 0 ? 0f : Math.Abs(a[i]);
                    w[i] = random.Next(4) == 0 ? -0f : -Math.Abs(w[i]);
                }
                break;
            case 3: // a NaN somewhere
                a[random.Next(n)] = float.NaN;
                break;
            case 4: // products beyond float's range (exact in double)
                for (int i = 0; i < n; i += 2) { a[i] = 3e38f * (0.5f + (float)random.NextDouble() / 2); w[i] = 10f + (float)random.NextDouble(); }
                break;
            case 5: // products below float's smallest value (exact in double)
                for (int i = 0; i < n; i++) { a[i] *= 1e-25f; w[i] *= 1e-25f; }
                break;
            case 6: // every product NaN
                for (int i = 0; i < n; i++) a[i] = float.NaN;
                break;
            case 7: // infinities
                a[random.Next(n)] = float.PositiveInfinity;
                a[random.Next(n)] = float.NegativeInfinity;
                break;
        }
        return (a, w);
    }

    [Fact]
    public void ArgmaxProduct_chooses_the_exact_largest_product()
    {
        var random = new Random(11);
        int cases = 0;
        foreach (int n in new[] { 1, 7, 8, 15, 16, 17, 64, 100, 1023, 4096 })
            for (int kind = 0; kind < 8; kind++)
                for (int rep = 0; rep < 6; rep++)
                {
                    var (a, w) = Case(random, n, kind);
                    foreach (float sign in new[] { 1f, -1f })
                    {
                        Assert.Equal(ReferenceArgmax(a, w, sign), Contributions.ArgmaxProduct(a, w, sign));
                        cases++;
                    }
                }
        Assert.Equal(10 * 8 * 6 * 2, cases);
    }

    [Fact]
    public void ArgmaxProduct_separates_products_that_round_to_the_same_float()
    {
        // 1.5 * (1/3 rounded) and (1.5 + ulp) * ... : float products equal, exact products differ.
        var a = new float[32];
        var w = new float[32];
        for (int i = 0; i < 32; i++) { a[i] = -1; w[i] = 1; }
        float third = 1f / 3f;
        float up = MathF.BitIncrement(1.75f); // (1.75 + ulp) * third rounds to the float of 1.75 * third
        a[3] = 1.75f; w[3] = third;
        a[20] = up; w[20] = third;
        Assert.Equal(a[3] * w[3], a[20] * w[20]);
        Assert.True((double)a[20] * w[20] > (double)a[3] * w[3]);
        Assert.Equal(20, Contributions.ArgmaxProduct(a, w));
        Assert.Equal(ReferenceArgmax(a, w, 1), Contributions.ArgmaxProduct(a, w));
        (a[3], a[20]) = (up, 1.75f);
        Assert.Equal(3, Contributions.ArgmaxProduct(a, w));
    }

    [Fact]
    public void PositiveProducts_are_decided_exactly_even_where_the_float_product_underflows()
    {
        var random = new Random(5);
        foreach (int n in new[] { 1, 8, 9, 31, 4096 })
            for (int kind = 0; kind < 8; kind++)
            {
                var (a, w) = Case(random, n, kind);
                var expected = Enumerable.Range(0, n).Where(i => (double)a[i] * w[i] > 0).ToArray();
                var mask = new ulong[(n + 63) / 64 + 1];
                mask[^1] = 0xF0; // bits already set stay set
                Contributions.OrPositiveProducts(a, w, mask);
                var fromMask = Enumerable.Range(0, n).Where(i => (mask[i >> 6] & (1UL << (i & 63))) != 0).ToArray();
                Assert.Equal(expected, fromMask);
                Assert.Equal(0xF0UL, mask[^1]);
            }
        var tiny = new[] { 1e-30f, -1e-30f, 0f, 1e-30f, 1e-30f, 1e-30f, 1e-30f, 1e-30f, 1e-30f };
        Assert.Equal(0f, tiny[0] * tiny[0]);
        var hits = new ulong[1];
        Contributions.OrPositiveProducts(tiny, tiny, hits);
        Assert.Equal(0b1_1111_1011UL, hits[0]); // all but the zero (bit 2)
    }

    [Fact]
    public void ArgmaxTapSums_equals_sums_over_taps_in_order_then_argmax()
    {
        var random = new Random(3);
        foreach (int channels in new[] { 1, 5, 8, 13, 64, 200 })
            foreach (int taps in new[] { 1, 2, 9 })
                foreach (double sign in new[] { 1.0, -1.0, 0.0 })
                    for (int kind = 0; kind < 8; kind++)
                    {
                        var (a, w) = Case(random, channels * taps * 2, kind);
                        var aOffsets = Enumerable.Range(0, taps).Select(_ => random.Next(a.Length - channels + 1)).ToArray();
                        var wOffsets = Enumerable.Range(0, taps).Select(_ => random.Next(w.Length - channels + 1)).ToArray();
                        var expected = new double[channels];
                        for (int k = 0; k < channels; k++)
                        {
                            double sum = 0;
                            for (int t = 0; t < taps; t++) sum += (double)a[aOffsets[t] + k] * (double)w[wOffsets[t] + k];
                            expected[k] = sum * sign;
                        }
                        int best = -1;
                        for (int k = 0; k < channels; k++)
                            if (!double.IsNaN(expected[k]) && (best < 0 || expected[k] > expected[best])) best = k;
                        var sums = new double[channels];
                        Assert.Equal(best, Contributions.ArgmaxTapSums(a, aOffsets, w, wOffsets, sign, sums));
                        for (int k = 0; k < channels; k++)
                            Assert.Equal(BitConverter.DoubleToInt64Bits(expected[k]) == BitConverter.DoubleToInt64Bits(-0.0) ? 0.0 : expected[k],
                                sums[k] == 0 ? 0.0 : sums[k]);
                    }
    }
}

/// <summary>The paged bit set behind <see cref="CnnFixations.Unravel.FixationSet"/> against a plain hash set.</summary>
public class FixationSetTests
{
    [Fact]
    public void Adds_unions_and_enumeration_agree_with_a_hash_set()
    {
        var random = new Random(4);
        foreach (int length in new[] { 1, 63, 64, 4095, 4096, 4097, 100_000 })
        {
            var a = new CnnFixations.Unravel.FixationSet("a", [1, length]);
            var b = new CnnFixations.Unravel.FixationSet("b", [length]);
            var expectedA = new HashSet<int>();
            var expectedB = new HashSet<int>();
            for (int i = 0; i < Math.Min(length, 300); i++)
            {
                int x = random.Next(length), y = random.Next(length);
                Assert.Equal(expectedA.Add(x), a.Add(x));
                Assert.Equal(expectedB.Add(y), b.Add(y));
            }
            Assert.Equal(expectedA.Order(), a.ToArray());
            a.UnionWith(b);
            expectedA.UnionWith(expectedB);
            Assert.Equal(expectedA.Count, a.Count);
            Assert.Equal(expectedA.Order(), a.ToArray());
            Assert.All(Enumerable.Range(0, Math.Min(length, 5000)), i => Assert.Equal(expectedA.Contains(i), a.Contains(i)));
            Assert.False(a.Contains(-1));
            Assert.False(a.Contains(length));
            Assert.Throws<ArgumentOutOfRangeException>(() => a.Add(length));
        }
        Assert.Throws<ArgumentException>(() => new CnnFixations.Unravel.FixationSet("c", [5]).UnionWith(new CnnFixations.Unravel.FixationSet("d", [6])));
    }
}
