using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Tests.Unravel;

public class DeterminismTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    private static List<string> AllLayers(Explainer explainer, TensorValue input) =>
        explainer.Explain(input).Fixations.Layers
            .OrderBy(l => l.Tensor, StringComparer.Ordinal)
            .Select(l => l.Tensor + ":" + string.Join(",", l.ToArray()))
            .ToList();

    /// <summary>The vectorized contribution sums choose exactly what the scalar loops choose, on every tensor of the walk, and repeated runs agree.</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Vectorized_and_scalar_walks_are_identical_and_repeatable(string name)
    {
        var fixture = TinyFixture.Parse(name);
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath));
        var input = fixture.LoadInput();
        var first = AllLayers(explainer, input);
        var second = AllLayers(explainer, input);
        List<string> scalar;
        lock (typeof(ContributionKernels))
        {
            ContributionKernels.Vectorized = false;
            try { scalar = AllLayers(explainer, input); }
            finally { ContributionKernels.Vectorized = true; }
        }
        Assert.Equal(first, second);
        Assert.Equal(first, scalar);
    }
}
