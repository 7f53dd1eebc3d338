using System.Text.Json;

namespace CnnFixations.Tests.Cli;

/// <summary>What the command line says about malformed numbers, unknown classes, missing labels, and the shape of --json output.</summary>
public class UsageWordingTests
{
    private static string Sample(string name) => Path.Combine(TestPaths.Samples, name);

    [Theory]
    [InlineData("--top-k", "abc", "--top-k expects a whole number, got 'abc'")]
    [InlineData("--jobs", "2.5", "--jobs expects a whole number, got '2.5'")]
    [InlineData("--sigma", "1,5", "--sigma expects a number such as 0.5, got '1,5'")]
    [InlineData("--max-pixels", "lots", "--max-pixels expects a whole number, got 'lots'")]
    public void A_value_that_is_not_a_number_is_named_in_the_users_words(string option, string value, string expected)
    {
        var r = CliRunner.Run("explain", Sample("cat.png"), option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.DoesNotContain("System.", r.Stderr);
    }

    [Fact]
    public void An_unknown_class_name_is_reported_before_any_image_is_read_with_the_closest_labels_first()
    {
        // The image does not exist: the class is checked first.
        var r = CliRunner.Run("explain", Sample("does-not-exist.png"), "--class", "cat");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown class name 'cat'", r.Stderr);
        Assert.DoesNotContain("does-not-exist", r.Stderr);
        foreach (var label in new[] { "'tiger cat' (283)", "'Egyptian cat' (286)", "'Persian cat' (284)" })
            Assert.Contains(label, r.Stderr);

        r = CliRunner.Run("explain", Sample("does-not-exist.png"), "--class", "tigr cat");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("did you mean 'tiger cat' (283)", r.Stderr);

        r = CliRunner.Run("explain", Sample("does-not-exist.png"), "--class", "1001");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("class index 1001 is out of range: the model has 1001 classes", r.Stderr);
    }

    [Fact]
    public void Suggestions_rank_whole_words_then_substrings_then_spelling()
    {
        var labels = new LabelSet(new[] { "catamaran", "tiger cat", "bobcat", "Egyptian cat", "cart", "dog" });
        Assert.Equal(new[] { 1, 3, 2, 0, 4 }, LabelSet.Suggestions("cat", labels, labels.Count, 5));
        Assert.Equal(new[] { 1 }, LabelSet.Suggestions("tigr cat", labels, labels.Count, 1));
        Assert.Empty(LabelSet.Suggestions("zebra", labels, labels.Count, 5));
        // Only outputs the model has are suggested.
        Assert.Equal(new[] { 1, 2, 0 }, LabelSet.Suggestions("cat", labels, 3, 5));
    }

    [Fact]
    public void A_missing_labels_file_named_by_the_model_is_a_warning()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string model = Path.Combine(dir, "model.onnx");
            File.Copy(TestPaths.BundledModel, model);
            var r = CliRunner.Run("explain", Sample("cat.png"), "--model", model, "--json", "-");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains($"warning: labels file '{Path.Combine(dir, "imagenet_labels.txt")}' named by the model's metadata is missing", r.Stderr);
            using var doc = JsonDocument.Parse(r.Stdout);
            Assert.Equal(286, doc.RootElement.GetProperty("target").GetProperty("index").GetInt32());

            using var explainer = FixationExplainer.Load(model);
            Assert.Contains(explainer.Explain(Sample("cat.png")).Warnings, w => w.Contains("named by the model's metadata is missing"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Json_to_standard_output_is_json_lines_for_one_or_many_documents()
    {
        var one = CliRunner.Run("explain", Sample("cat.png"), "--json", "-");
        Assert.True(one.ExitCode == 0, one.Stderr);
        Assert.Single(one.Stdout.TrimEnd('\n').Split('\n'));

        var three = CliRunner.Run("explain", Sample("cat.png"), "--top-k", "3", "--json", "-");
        Assert.True(three.ExitCode == 0, three.Stderr);
        Assert.EndsWith("\n", three.Stdout);
        var lines = three.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l =>
        {
            using var d = JsonDocument.Parse(l);
            Assert.Equal(JsonValueKind.Object, d.RootElement.ValueKind);
        });
    }

    [Fact]
    public void A_missing_image_is_reported_before_the_model_is_read()
    {
        // The model does not exist either: the image's error comes first, so it costs no model load or session.
        var r = CliRunner.Run("explain", Sample("does-not-exist.png"), "--model", "/nonexistent/m.onnx");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot read image", r.Stderr);
        Assert.Contains("does-not-exist.png': the file does not exist", r.Stderr);
        Assert.DoesNotContain("m.onnx", r.Stderr);
    }
}
