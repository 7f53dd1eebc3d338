using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Unravel;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Tests.Unravel;

/// <summary>The vector arithmetic (channel-last conv sums, FC products, vector argmax) chooses exactly what the scalar loops choose.</summary>
[Collection("Contributions.Vectorized")]
public class VectorPathTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    private static List<string> AllLayers(Explainer explainer, TensorValue input) => WalkHarness.AllLayers(explainer, input);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Vector_and_scalar_walks_are_identical_on_every_tensor(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var input = fixture.LoadInput();
        var many = new UnravelOptions { Rules = RuleFamily.Paper, ConvPosition = ConvPosition.Refine, FcSpatialAllPositive = true, GlobalPoolAllPositive = true };
        foreach (var options in new[] { UnravelOptions.Paper, many })
        {
            using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), options);
            var vector = AllLayers(explainer, input);
            List<string> scalar;
            lock (typeof(Contributions))
            {
                Contributions.Vectorized = false;
                try { scalar = AllLayers(explainer, input); }
                finally { Contributions.Vectorized = true; }
            }
            Assert.Equal(scalar, vector);
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Gathered_and_transposed_1x1_inputs_choose_like_the_scalar_loops(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var input = fixture.LoadInput();
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), UnravelOptions.Paper);
        lock (typeof(Contributions))
        {
            long before = ConvRule.GatherCost;
            try
            {
                Contributions.Vectorized = false;
                var scalar = AllLayers(explainer, input);
                Contributions.Vectorized = true;
                foreach (long cost in new[] { 0L, long.MaxValue })
                {
                    ConvRule.GatherCost = cost; // 0: always gather 1x1 columns; huge: always transpose
                    Assert.Equal(scalar, AllLayers(explainer, input));
                }
            }
            finally
            {
                Contributions.Vectorized = true;
                ConvRule.GatherCost = before;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Walks_split_over_threads_are_identical_to_one_thread(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var input = fixture.LoadInput();
        var model = OnnxModel.Load(fixture.ModelPath);
        using var single = new Explainer(model, UnravelOptions.Paper, intraOpThreads: 1);
        using var four = new Explainer(model, UnravelOptions.Paper, intraOpThreads: 4);
        var expected = AllLayers(single, input);
        List<string> split;
        lock (typeof(Contributions))
        {
            long before = ParallelChunks.MinWork;
            ParallelChunks.MinWork = 0; // every rule that can split does, even on these tiny layers
            try { split = AllLayers(four, input); }
            finally { ParallelChunks.MinWork = before; }
        }
        Assert.Equal(expected, split);
    }

    [Fact]
    public void Channel_last_copies_equal_a_plain_transpose_on_the_chosen_blocks()
    {
        var random = new Random(8);
        foreach (var (channels, plane) in new[] { (8, 8), (13, 49), (64, 3136), (3, 10), (24, 17) })
        {
            var a = Enumerable.Range(0, channels * plane).Select(_ => (float)random.NextDouble()).ToArray();
            int blockCount = (plane + 7) / 8;
            var blocks = new ulong[(blockCount + 63) / 64];
            for (int b = 0; b < blockCount; b++) if (random.Next(3) > 0) blocks[b >> 6] |= 1UL << (b & 63);
            foreach (var chosen in new[] { blocks, Array.Empty<ulong>() })
            {
                var result = Enumerable.Repeat(-1f, channels * plane).ToArray();
                Contributions.ChannelLast(a, channels, plane, result, chosen);
                for (int p = 0; p < plane; p++)
                {
                    bool copied = chosen.Length == 0 || (chosen[(p / 8) >> 6] & (1UL << ((p / 8) & 63))) != 0;
                    for (int k = 0; k < channels; k++)
                        Assert.Equal(copied ? a[k * plane + p] : -1f, result[p * channels + k]);
                }
            }
        }
    }

    [Fact]
    public void The_channel_last_path_is_taken_when_many_neurons_are_walked()
    {
        var fixture = new TinyFixture("vgg16", "vgg16.onnx");
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), new UnravelOptions { Rules = RuleFamily.Paper, FcSpatialAllPositive = true, GlobalPoolAllPositive = true });
        long before = Interlocked.Read(ref ConvRule.ChannelLastCopies);
        explainer.Explain(fixture.LoadInput());
        Assert.True(Interlocked.Read(ref ConvRule.ChannelLastCopies) > before);
    }

    [Fact]
    public void Vector_argmax_breaks_ties_like_the_scalar_loop_including_signed_zeros()
    {
        var values = new double[100];
        for (int i = 0; i < values.Length; i++) values[i] = -1;
        values[10] = -0.0;
        values[40] = 0.0;  // equal to -0.0: the first (10) wins
        Assert.Equal(10, Select.Argmax(values));
        values[70] = 3; values[90] = 3;
        Assert.Equal(70, Select.Argmax(values));
        values[5] = double.NaN;
        Assert.Equal(70, Select.Argmax(values));
    }
}
