using System.Text.Json;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Fixtures;

/// <summary>
/// Every tiny fixture: the ONNX Runtime logits match PyTorch's reference logits, and the walk
/// matches the independent Python implementation of the spec (tools/reference), for the default
/// options and each option variant.
/// </summary>
public class FixtureTests
{
    public static TheoryData<string> Fixtures => TinyFixture.Names();

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Forward_logits_match_the_reference_logits(string name)
    {
        var fixture = TinyFixture.Parse(name);
        var model = OnnxModel.Load(fixture.ModelPath);
        using var explainer = new Explainer(model, UnravelOptions.Paper);
        var values = explainer.Forward(fixture.LoadInput());
        var logits = values[explainer.LogitsTensor].Data;
        var expected = fixture.ReferenceLogits();
        Assert.Equal(expected.Length, logits.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - logits[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i]),
                $"logit {i}: {logits[i]} vs reference {expected[i]}");
    }

    public static TheoryData<string, string> ReferenceCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in TinyFixture.All())
            foreach (var variant in new[] { "", "refine", "allpositive", "rawbn" })
            {
                string file = Path.Combine(TestPaths.Reference, variant.Length == 0 ? f.Stem + ".json" : $"{f.Stem}.{variant}.json");
                if (File.Exists(file)) data.Add(f.ToString(), variant);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Walk_matches_the_independent_reference_implementation(string name, string variant)
    {
        var fixture = TinyFixture.Parse(name);
        var options = variant switch
        {
            "refine" => new UnravelOptions { Rules = RuleFamily.Paper, ConvPosition = ConvPosition.Refine },
            "allpositive" => new UnravelOptions { Rules = RuleFamily.Paper, FcSpatialAllPositive = true },
            "rawbn" => new UnravelOptions { Rules = RuleFamily.Paper, FoldBatchNorm = false },
            _ => UnravelOptions.Paper,
        };
        string file = Path.Combine(TestPaths.Reference, variant.Length == 0 ? fixture.Stem + ".json" : $"{fixture.Stem}.{variant}.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        int target = doc.RootElement.GetProperty("target").GetInt32();
        var expected = doc.RootElement.GetProperty("inputFixations").EnumerateArray()
            .Select(t => string.Join(",", t.EnumerateArray().Select(v => v.GetInt32()))).ToList();

        using var explainer = new Explainer(OnnxModel.Load(fixture.ModelPath), options);
        var result = explainer.Explain(fixture.LoadInput());
        Assert.Equal(target, result.Target);
        var actual = result.Fixations.Input.ToNeurons().Select(n => string.Join(",", n)).ToList();
        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && actual.Count == expected.Count,
            $"{expected.Count} expected, {actual.Count} found; missing e.g. [{string.Join(" ", missing)}], extra e.g. [{string.Join(" ", extra)}]");
    }
}
