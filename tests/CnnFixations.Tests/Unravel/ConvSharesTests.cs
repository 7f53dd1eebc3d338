using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Unravel;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Tests.Unravel;

/// <summary>
/// The vector kernels of the weighted Conv rule (<c>ConvShares</c>) give the same floats, bit for bit, as the
/// plain loops they replace (<c>PositiveShares.ConvReference</c>): on random convolutions of every geometry
/// (strides, dilations, padding, groups, folded signs, zero and NaN weights, NaN and infinite inputs) and on
/// the whole walk of every tiny fixture, at several thread counts.
/// </summary>
public class ConvSharesTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 0; seed < 40; seed++) data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_convolutions_match_the_plain_loops_bit_for_bit(int seed)
    {
        var rng = new Random(seed);
        int group = rng.Next(4) switch { 0 => 1, 1 => 2, _ => rng.Next(3, 20) };
        bool depthwise = group > 2;
        int cinG = depthwise ? 1 : rng.Next(1, 6), coutG = depthwise ? 1 : rng.Next(1, 6);
        int cin = cinG * group, cout = coutG * group;
        bool oneByOne = rng.Next(3) == 0;
        int kh = oneByOne ? 1 : rng.Next(1, 6), kw = oneByOne ? 1 : rng.Next(1, 6);
        int sh = oneByOne ? 1 : rng.Next(1, 4), sw = oneByOne ? 1 : rng.Next(1, 4);
        int dh = oneByOne ? 1 : rng.Next(1, 3), dw = oneByOne ? 1 : rng.Next(1, 3);
        int pt = oneByOne ? 0 : rng.Next(0, kh), pl = oneByOne ? 0 : rng.Next(0, kw);
        int pb = oneByOne ? 0 : rng.Next(0, kh), pr = oneByOne ? 0 : rng.Next(0, kw);
        int inH = rng.Next(Math.Max(1, (kh - 1) * dh + 1 - pt - pb), 40), inW = rng.Next(Math.Max(1, (kw - 1) * dw + 1 - pl - pr), 70);
        int outH = (inH + pt + pb - (kh - 1) * dh - 1) / sh + 1, outW = (inW + pl + pr - (kw - 1) * dw - 1) / sw + 1;
        if (outH * outW == 1) outW = 2; // a 1x1 output is the fully connected form, kept in the plain loops

        var x = new float[cin * inH * inW];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.Next(50) switch
            {
                0 => 0f,
                1 => -0f,
                2 when seed % 4 == 0 => float.NaN,
                3 when seed % 8 == 0 => float.PositiveInfinity,
                4 => 1e-30f,
                _ => (float)(rng.NextDouble() * 4 - 1.5),
            };
        var w = new float[cout * cinG * kh * kw];
        for (int i = 0; i < w.Length; i++)
            w[i] = rng.Next(30) switch
            {
                0 => 0f,
                1 when seed % 3 == 0 => float.NaN,
                2 when seed % 5 == 0 => rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        float[]? sign = seed % 2 == 0 ? null : Enumerable.Range(0, cout).Select(_ => rng.Next(3) == 0 ? -1f : 1f).ToArray();
        var output = new float[cout * outH * outW];
        for (int i = 0; i < output.Length; i++) output[i] = rng.Next(4) == 0 ? 0f : (float)rng.NextDouble() * 1e-3f;
        if (rng.Next(3) == 0) Array.Clear(output, 0, Math.Min(output.Length, outH * outW)); // a channel without weight
        var window = new Window2D(kh, kw, sh, sw, dh, dw, pt, pl);
        double flat = new[] { 0.5, 0, 1, 0.3 }[seed % 4];

        var start = new float[cin * inH * inW];
        for (int i = 0; i < start.Length; i++) start[i] = (float)rng.NextDouble() * 1e-4f;
        var want = (float[])start.Clone();
        PositiveShares.ConvReference(x, cin, inH, inW, w, cout, cinG, kh, kw, group, window, outH, outW, sign, output, want, flat, 1, evenFallback: true);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var got = (float[])start.Clone();
            ConvShares.Run(x, cin, inH, inW, w, cout, cinG, kh, kw, group, window, outH, outW, sign, output, got, flat, threads);
            for (int i = 0; i < want.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(want[i]) == BitConverter.SingleToInt32Bits(got[i]),
                    $"threads {threads}, input {i}: plain loops {want[i]:R}, vector kernels {got[i]:R} (group {group}, {cin}x{inH}x{inW} -> {cout}x{outH}x{outW}, " +
                    $"kernel {kh}x{kw}, stride {sh}x{sw}, dilation {dh}x{dw}, pads {pt},{pl})");
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Every_fixture_walk_is_the_same_with_the_plain_loops(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var model = OnnxModel.Load(fixture.ModelPath);
        var input = fixture.LoadInput();
        float[]? reference = null;
        foreach (bool plain in new[] { true, false })
            foreach (int threads in new[] { 1, 2 })
            {
                float[] got;
                lock (typeof(ConvSharesTests))
                {
                    PositiveShares.ReferenceConv = plain;
                    try
                    {
                        using var explainer = new Explainer(model, UnravelOptions.Default, intraOpThreads: threads);
                        using var forward = explainer.Forward(input);
                        got = explainer.Unravel(forward, Explainer.TopClasses(forward[explainer.LogitsTensor].Data, 1)[0]).Weights!.Input;
                    }
                    finally { PositiveShares.ReferenceConv = false; }
                }
                reference ??= got;
                Assert.Equal(reference.Select(BitConverter.SingleToInt32Bits), got.Select(BitConverter.SingleToInt32Bits));
            }
    }
}

/// <summary>The order of the weighted fixations: heaviest pixel first, equal weights by index (as the LINQ ordering it replaces).</summary>
public class HeaviestFirstTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Orders_like_OrderByDescending_ThenBy_index(int seed)
    {
        var rng = new Random(seed);
        var values = new double[5000];
        for (int i = 0; i < values.Length; i++)
            values[i] = rng.Next(6) switch { 0 => 0, 1 => -1, 2 => double.NaN, 3 => rng.Next(5) * 0.25, _ => rng.NextDouble() };
        var want = Enumerable.Range(0, values.Length).Where(p => values[p] > 0).OrderByDescending(p => values[p]).ThenBy(p => p).ToArray();
        Assert.Equal(want, Explainer.HeaviestFirst(values));
    }

    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(1, 0.5)]
    [InlineData(2, 0.9)]
    [InlineData(3, 0.01)]
    [InlineData(4, 1.0)]
    public void The_part_that_holds_a_target_is_the_start_of_the_full_order(int seed, double fraction)
    {
        var rng = new Random(seed);
        var values = new double[5000];
        for (int i = 0; i < values.Length; i++)
            values[i] = rng.Next(7) switch
            {
                0 => 0, 1 => -1, 2 => double.NaN, 3 => rng.Next(5) * 0.25, 4 => 1e-300 * rng.NextDouble(),
                5 => Math.Exp(-30 * rng.NextDouble()), _ => rng.NextDouble(),
            };
        double total = values.Where(v => v > 0).Sum();
        var full = Explainer.HeaviestFirst(values);
        var part = Explainer.HeaviestFirst(values, fraction * total);
        Assert.Equal(full.Take(part.Length), part);
        // It holds the target when summed in its own order, as the fixations are taken.
        double acc = 0;
        int used = 0;
        foreach (int p in part)
        {
            if (acc >= fraction * total) break;
            acc += values[p];
            used++;
        }
        Assert.True(acc >= fraction * total || part.Length == full.Length, $"{acc} of {fraction * total} with {used} of {part.Length}");
        Assert.True(part.Length < full.Length || fraction >= 0.9, $"{part.Length} of {full.Length} sorted for {fraction}");
    }

    [Fact]
    public void Equal_values_and_a_single_value_keep_index_order()
    {
        var same = Enumerable.Repeat(0.5, 100).ToArray();
        Assert.Equal(Enumerable.Range(0, 100), Explainer.HeaviestFirst(same, 25));
        Assert.Equal(new[] { 3 }, Explainer.HeaviestFirst(new[] { 0, 0, -1, 2.0 }, 1));
        Assert.Empty(Explainer.HeaviestFirst(new double[10], 0));
    }
}
