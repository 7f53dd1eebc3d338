using System.Text.Json;
using System.Text.RegularExpressions;
using CnnFixations.Imaging;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Cli;

public class ExplainCommandTests
{
    private static string Sample(string name) => Path.Combine(TestPaths.Samples, name);

    [Fact]
    public void Explains_the_bundled_sample_with_the_bundled_model_and_writes_every_output()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Sample("cat.png"), "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Egyptian cat", r.Stdout);
        foreach (var suffix in new[] { ".overlay.png", ".heatmap.png", ".heatmap.npy", ".json" })
            Assert.True(File.Exists(Path.Combine(dir, "cat" + suffix)), "missing cat" + suffix);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "cat.json")));
        var root = doc.RootElement;
        Assert.Equal(512, root.GetProperty("width").GetInt32());
        Assert.Equal(341, root.GetProperty("height").GetInt32());
        Assert.Equal(286, root.GetProperty("target").GetProperty("index").GetInt32());
        Assert.Equal("Egyptian cat", root.GetProperty("target").GetProperty("label").GetString());
        Assert.Equal(5, root.GetProperty("predictions").GetArrayLength());
        Assert.Equal(64, root.GetProperty("model").GetProperty("sha256").GetString()!.Length);
        int fixations = root.GetProperty("inputFixations").GetArrayLength();
        Assert.True(fixations > 0);
        Assert.Equal(fixations, root.GetProperty("points").GetArrayLength());
        Assert.Equal(4, root.GetProperty("box").GetArrayLength());

        var (shape, heat) = NpyFile.ReadFloat32(Path.Combine(dir, "cat.heatmap.npy"));
        Assert.Equal(new[] { 341, 512 }, shape);
        Assert.Equal(1f, heat.Max());
        Assert.True(heat.Min() >= 0);
    }

    private static string WithoutTimings(string json) => Regex.Replace(json, "\"timings\":\\{[^}]*\\}", "");

    [Fact]
    public void The_same_input_gives_byte_identical_json_apart_from_timings()
    {
        string a = TestPaths.NewTempDir(), b = TestPaths.NewTempDir();
        Assert.Equal(0, CliRunner.Run("explain", Sample("bird.png"), "--json", Path.Combine(a, "r.json")).ExitCode);
        Assert.Equal(0, CliRunner.Run("explain", Sample("bird.png"), "--json", Path.Combine(b, "r.json")).ExitCode);
        string ja = File.ReadAllText(Path.Combine(a, "r.json")), jb = File.ReadAllText(Path.Combine(b, "r.json"));
        Assert.Contains("\"timings\"", ja);
        Assert.Equal(WithoutTimings(ja), WithoutTimings(jb));
    }

    [Fact]
    public void Input_tensor_json_matches_the_reference_implementation()
    {
        var fixture = new TinyFixture("resnet18", "resnet18.onnx");
        var r = CliRunner.Run("explain", "--model", fixture.ModelPath, "--input-tensor", fixture.InputPath, "--json", "-", "--rules", "paper");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var mine = JsonDocument.Parse(r.Stdout);
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Reference, "resnet18.json")));
        Assert.Equal(JsonValueKind.Null, mine.RootElement.GetProperty("image").ValueKind);
        Assert.Equal(reference.RootElement.GetProperty("target").GetInt32(), mine.RootElement.GetProperty("target").GetProperty("index").GetInt32());
        Assert.Equal(JsonSerializer.Serialize(reference.RootElement.GetProperty("inputFixations")),
                     mine.RootElement.GetProperty("inputFixations").GetRawText());
        // Input pixels map to themselves: points are (x, y) of the fixations.
        var first = mine.RootElement.GetProperty("inputFixations")[0];
        var point = mine.RootElement.GetProperty("points")[0];
        Assert.Equal(first[2].GetInt32(), point[0].GetInt32());
        Assert.Equal(first[1].GetInt32(), point[1].GetInt32());
    }

    [Fact]
    public void Class_by_name_and_top_k_explain_the_requested_classes()
    {
        string dir = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Sample("cat.png"), "--class", "tabby", "--json", Path.Combine(dir, "c.json"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "c.json"))))
            Assert.Equal(282, doc.RootElement.GetProperty("target").GetProperty("index").GetInt32());

        r = CliRunner.Run("explain", Sample("cat.png"), "--top-k", "3", "--json", Path.Combine(dir, "k.json"), "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var all = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "k.json")));
        Assert.Equal(new[] { 286, 282, 283 }, all.RootElement.EnumerateArray().Select(e => e.GetProperty("target").GetProperty("index").GetInt32()));
        Assert.True(File.Exists(Path.Combine(dir, "cat.282.overlay.png")));
    }

    [Theory]
    [InlineData(new[] { "explain" }, "nothing to explain")]
    [InlineData(new[] { "explain", "x.png", "--class", "3", "--top-k", "2" }, "exclusive")]
    [InlineData(new[] { "explain", "x.png", "--top-k", "0" }, "--top-k")]
    [InlineData(new[] { "explain", "x.png", "--box", "circle" }, "circle")]
    [InlineData(new[] { "explain", "x.png", "--no-such-option" }, "no-such-option")]
    public void Usage_errors_exit_with_code_2_and_say_what_is_wrong(string[] args, string expected)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
    }

    [Fact]
    public void A_missing_image_or_model_or_an_unknown_class_fails_with_code_1_and_one_line()
    {
        var r = CliRunner.Run("explain", "/nonexistent/photo.jpg");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("photo.jpg", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));

        r = CliRunner.Run("explain", Sample("cat.png"), "--model", "/nonexistent/m.onnx");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("m.onnx", r.Stderr);

        r = CliRunner.Run("explain", Sample("cat.png"), "--class", "unicorn");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown class name 'unicorn'", r.Stderr);

        r = CliRunner.Run("explain", Sample("cat.png"), "--class", "1001");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("out of range", r.Stderr);
    }

    [Fact]
    public void Help_explains_the_options()
    {
        var r = CliRunner.Run("explain", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var option in new[] { "--model", "--out", "--json", "--class", "--top-k", "--input-tensor", "--preset", "--sigma", "--conv-position", "--bn" })
            Assert.Contains(option, r.Stdout);
    }
}
