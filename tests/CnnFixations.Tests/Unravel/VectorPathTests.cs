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
        var many = new UnravelOptions { ConvPosition = ConvPosition.Refine, FcSpatialAllPositive = true, GlobalPoolAllPositive = true };
        foreach (var options in new[] { UnravelOptions.Default, many })
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

    [Fact]
    public void The_channel_last_path_is_taken_when_many_neurons_are_walked()
    {
        var fixture = new TinyFixture("vgg16", "vgg16.onnx");
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), new UnravelOptions { FcSpatialAllPositive = true, GlobalPoolAllPositive = true });
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
