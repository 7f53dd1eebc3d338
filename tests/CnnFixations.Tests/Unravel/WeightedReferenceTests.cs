using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Unravel;

/// <summary>
/// The weighted walk (docs/cnn-fixations.md, "Weighted rules") against an independent Python
/// implementation written from the specification only (tools/reference/weighted_reference.py, float64,
/// its own forward pass). The reference outputs and how they were made: tests/fixtures/weighted/README.md.
/// </summary>
public class WeightedReferenceTests
{
    private static string Folder => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "weighted");

    public static TheoryData<string, string, WalkEngine> Cases()
    {
        var data = new TheoryData<string, string, WalkEngine>();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "index.json")));
        foreach (var model in doc.RootElement.EnumerateObject())
            foreach (var variant in model.Value.EnumerateObject())
                if (variant.Value.TryGetProperty("file", out _))
                    foreach (var engine in new[] { WalkEngine.Managed, WalkEngine.Onnx })
                        data.Add(model.Name, variant.Name, engine);
        return data;
    }

    /// <summary>
    /// The options of a case, every one of them set here from index.json (never from
    /// <see cref="UnravelOptions.Default"/>, whose values may change): the weighted rules with the
    /// reference's flat share, cell share, contrast and softmax share.
    /// </summary>
    private static UnravelOptions OptionsOf(JsonElement entry) => new()
    {
        Rules = RuleFamily.Weighted,
        FlatShare = entry.GetProperty("flatShare").GetDouble(),
        CellShare = entry.GetProperty("cellShare").GetDouble(),
        Contrast = entry.GetProperty("contrast").GetString() switch
        {
            "softmax" => Contrast.Softmax,
            "mean" => Contrast.Mean,
            "none" => Contrast.None,
            var other => throw new InvalidDataException($"unknown contrast '{other}' in index.json"),
        },
        SoftmaxShare = entry.GetProperty("softmaxShare").GetDouble(),
        CellGrid = entry.GetProperty("cells").GetString() switch
        {
            "bilinear" => CellGrid.Bilinear,
            "blocks" => CellGrid.Blocks,
            "centres" => CellGrid.Centres,
            var other => throw new InvalidDataException($"unknown cells '{other}' in index.json"),
        },
        FoldBatchNorm = true,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Input_weights_match_the_reference(string model, string variant, WalkEngine engine)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "index.json")));
        var entry = doc.RootElement.GetProperty(model).GetProperty(variant);
        var fixture = TinyFixture.Parse(model);
        Assert.False(entry.GetProperty("headJoint").GetBoolean(), "the C# walk has no --head-joint");
        var options = OptionsOf(entry) with { WalkEngine = engine };
        int target = entry.GetProperty("target").GetInt32();
        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), options);
        using var forward = explainer.Forward(fixture.LoadInput());
        var explanation = explainer.Unravel(forward, target);
        var got = explanation.Weights!.Input;
        if (engine == WalkEngine.Onnx) Assert.Null(explainer.ManagedWalkReason);
        var (shape, want) = NpyFile.ReadFloat32(Path.Combine(Folder, entry.GetProperty("file").GetString()!));

        Assert.Equal(shape, explanation.Weights.InputShape.Skip(explanation.Weights.InputShape.Length - shape.Length).ToArray());
        Assert.Equal(want.Length, got.Length);
        var headWant = entry.GetProperty("headTensors").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(headWant, explanation.Weights.HeadTensors.Order(StringComparer.Ordinal).ToArray());

        double max = want.Max(v => Math.Abs((double)v));
        double tol = 1e-4 * max + 1e-7;
        int bad = 0, worst = -1;
        double worstDiff = 0, sumGot = 0, sumWant = 0;
        for (int i = 0; i < got.Length; i++)
        {
            sumGot += got[i];
            sumWant += want[i];
            double d = Math.Abs((double)got[i] - want[i]);
            if (d > tol) bad++;
            if (d > worstDiff) { worstDiff = d; worst = i; }
        }
        string Where(int i)
        {
            int plane = shape[^1] * shape[^2];
            return $"(c={i / plane}, y={i % plane / shape[^1]}, x={i % shape[^1]})";
        }
        Assert.True(bad == 0,
            $"{model} {variant}: {bad} of {got.Length} weights differ by more than {tol:G3} (1e-4 of max {max:G4}); worst at {Where(Math.Max(worst, 0))}: " +
            $"C# {(worst >= 0 ? got[worst] : 0):G6} vs reference {(worst >= 0 ? want[worst] : 0):G6}; sums C# {sumGot:G8} reference {sumWant:G8}");
        Assert.True(Math.Abs(sumGot - sumWant) <= 1e-4 * Math.Max(1, Math.Abs(sumWant)), $"{model} {variant}: sum C# {sumGot:G8} vs reference {sumWant:G8}");
    }
}
