using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Unravel;

public class DeterminismTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    private static List<string> AllLayers(Explainer explainer, TensorValue input) => WalkHarness.AllLayers(explainer, input);

    /// <summary>Repeated walks (reusing the activation buffers of earlier passes) agree on every tensor.</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Repeated_walks_are_identical(string name)
    {
        var fixture = TinyFixture.Parse(name);
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath));
        var input = fixture.LoadInput();
        var first = AllLayers(explainer, input);
        var second = AllLayers(explainer, input);
        using var other = new Explainer(OnnxModel.Load(fixture.ModelPath));
        Assert.Equal(first, second);
        Assert.Equal(first, AllLayers(other, input));
    }
}
