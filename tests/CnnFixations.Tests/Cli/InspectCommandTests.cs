using System.Text.Json;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Tests.Unravel;

namespace CnnFixations.Tests.Cli;

public class InspectCommandTests
{
    public static TheoryData<string> AllModels()
    {
        var data = new TheoryData<string>();
        foreach (var f in TinyFixture.All()) data.Add(f.ModelPath);
        foreach (var f in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "real"), "*.onnx").Order(StringComparer.Ordinal)) data.Add(f);
        data.Add(TestPaths.BundledModel);
        return data;
    }

    /// <summary>The real models kept only in the shared folder beside the clone.</summary>
    public static TheoryData<string> SharedModels()
    {
        var data = new TheoryData<string>();
        string dir = Path.Combine(TestPaths.Shared, "models", "real");
        if (Directory.Exists(dir))
            foreach (var f in Directory.GetFiles(dir, "*.onnx").Order(StringComparer.Ordinal)) data.Add(f);
        return data;
    }

    [SharedTheory("models/real", "the real MobileNets (not all in the repository)")]
    [MemberData(nameof(SharedModels))]
    public void Every_shared_model_has_a_rule_for_every_op_the_walk_can_reach(string model) =>
        Every_model_has_a_rule_for_every_op_the_walk_can_reach(model);

    [Theory]
    [MemberData(nameof(AllModels))]
    public void Every_model_has_a_rule_for_every_op_the_walk_can_reach(string model)
    {
        var r = CliRunner.Run("inspect", model, "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(0, doc.RootElement.GetProperty("unhandled").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("classes").GetInt32() >= 10);
        Assert.All(doc.RootElement.GetProperty("nodes").EnumerateArray(), n => Assert.NotEqual("unhandled", n.GetProperty("role").GetString()));
    }

    [Fact]
    public void Constant_subgraphs_are_listed_as_constant()
    {
        var r = CliRunner.Run("inspect", new TinyFixture("edge_c_matmul", "edge_c_matmul.onnx").ModelPath, "--json");
        using var doc = JsonDocument.Parse(r.Stdout);
        var roles = doc.RootElement.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("op").GetString() + "@" + n.GetProperty("index").GetInt32(), n => n.GetProperty("role").GetString());
        Assert.Equal("constant", roles.Single(kv => kv.Key.StartsWith("Transpose@")).Value);
        Assert.All(roles.Where(kv => kv.Key.StartsWith("Constant@")), kv => Assert.Equal("constant", kv.Value));

        r = CliRunner.Run("inspect", TestPaths.BundledModel);
        Assert.Contains("DequantizeLinear\t", r.Stdout);
        Assert.All(r.Stdout.Split('\n').Where(l => l.Contains("\tDequantizeLinear\t")), l => Assert.EndsWith("\tconstant", l.TrimEnd()));
        Assert.Contains("mean=128,128,128", r.Stdout);
    }

    [Fact]
    public void An_op_without_a_rule_on_the_walk_is_reported_and_fails()
    {
        var model = new GraphBuilder("x", 1, 1, 4, 4)
            .Node("DepthToSpace", new[] { "x" }, new[] { "t" }, ("blocksize", 1))
            .Node("Flatten", new[] { "t" }, new[] { "f" })
            .Initializer("W", new[] { 3, 16 }, Enumerable.Repeat(0.5f, 48).ToArray())
            .Node("Gemm", new[] { "f", "W" }, new[] { "y" }, ("transB", 1))
            .Output("y").Bytes();
        string path = Path.Combine(TestPaths.NewTempDir(), "depthtospace.onnx");
        File.WriteAllBytes(path, model);
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UNHANDLED", r.Stdout);
        Assert.Contains("DepthToSpace ('depthtospace0')", r.Stdout);
    }
}
