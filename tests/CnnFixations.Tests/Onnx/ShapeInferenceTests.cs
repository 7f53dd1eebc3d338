using CnnFixations.Inference;
using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Onnx;

public class ShapeInferenceTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    /// <summary>Every shape inferred statically equals the shape ONNX Runtime produces (all tensors fetched).</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Static_shapes_match_onnx_runtime(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var model = OnnxModel.Load(fixture.ModelPath);
        var shapes = ShapeInference.Infer(model, model.InputShape);
        var produced = model.ProducedTensors().Where(t => !model.IsConstant(t)).ToList();
        using var session = new ModelSession(model, produced);
        var values = session.Run(fixture.LoadInput(), produced);
        int checkedCount = 0;
        foreach (var t in produced)
        {
            if (!shapes.TryGetValue(t, out var s)) continue;
            Assert.True(Shapes.SameShape(values[t].Shape, s), $"{t}: inferred {Shapes.Format(s)}, ONNX Runtime {Shapes.Format(values[t].Shape)}");
            checkedCount++;
        }
        Assert.Equal(produced.Count, checkedCount); // every activation of these CNNs is inferred
    }
}
