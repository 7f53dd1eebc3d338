using System.Text.Json;
using System.Text.RegularExpressions;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Captioning;

public class CaptionCommandTests
{
    private static string Fixture(string entry) => Path.Combine(CaptionerTests.Fixtures, entry);

    /// <summary>A small seeded-random RGB picture written as PNG.</summary>
    private static string Picture(string dir, string name, int seed, int w = 40, int h = 30)
    {
        var rng = new Random(seed);
        var px = new byte[3 * w * h];
        rng.NextBytes(px);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, MapImages.EncodePng(new RgbImage(w, h, px)));
        return path;
    }

    private static string WithoutTimings(string json) => Regex.Replace(json, "\"timings\":\\{[^}]*\\}", "");

    [Theory]
    [InlineData("first-step")]
    [InlineData("initial-state")]
    [InlineData("written-cell")]
    public void Captions_an_image_writes_every_output_and_is_deterministic(string entry)
    {
        string dir = TestPaths.NewTempDir(), outDir = Path.Combine(dir, "out");
        string image = Picture(dir, "pic.png", 7);
        var r = CliRunner.Run("caption", image, "--model", Fixture(entry), "--out", outDir, "--max-words", "6");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("caption: \"", r.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "pic.json")));
        var root = doc.RootElement;
        string caption = root.GetProperty("caption").GetString()!;
        var words = root.GetProperty("words").EnumerateArray().ToList();
        Assert.Equal(caption, string.Join(" ", words.Select(w => w.GetProperty("word").GetString())));
        Assert.InRange(words.Count, 1, 6);
        foreach (var w in words)
        {
            double p = w.GetProperty("probability").GetDouble();
            Assert.InRange(p, 0.0, 1.0);
            foreach (var pt in w.GetProperty("points").EnumerateArray())
            {
                Assert.InRange(pt[0].GetInt32(), 0, 39);
                Assert.InRange(pt[1].GetInt32(), 0, 29);
            }
            Assert.True(w.GetProperty("keptPoints").GetArrayLength() <= w.GetProperty("points").GetArrayLength());
            Assert.True(w.TryGetProperty("box", out _));
        }
        Assert.True(File.Exists(Path.Combine(outDir, "pic.caption.png")));
        for (int i = 1; i <= words.Count; i++) Assert.True(File.Exists(Path.Combine(outDir, $"pic.word{i:D2}.overlay.png")));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp", SearchOption.AllDirectories));

        var again = CliRunner.Run("caption", image, "--model", Fixture(entry), "--json", "-", "--max-words", "6");
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(WithoutTimings(File.ReadAllText(Path.Combine(outDir, "pic.json"))).Replace(Path.Combine(outDir, ""), ""),
                     WithoutTimings(again.Stdout).Replace(Path.Combine(outDir, ""), ""));
        var third = CliRunner.Run("caption", image, "--model", Fixture(entry), "--json", "-", "--max-words", "6");
        Assert.Equal(WithoutTimings(again.Stdout), WithoutTimings(third.Stdout));
    }

    [Fact]
    public void Weighted_rules_and_grad_cam_are_written_and_deterministic()
    {
        string dir = TestPaths.NewTempDir(), outDir = Path.Combine(dir, "out");
        string image = Picture(dir, "pic.png", 7);
        var r = CliRunner.Run("caption", image, "--model", Fixture("first-step"), "--rules", "weighted", "--gradcam", "--out", outDir, "--max-words", "6");
        Assert.True(r.ExitCode == 0, r.Stderr);
        string json = File.ReadAllText(Path.Combine(outDir, "pic.json"));
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("weighted", root.GetProperty("rules").GetString());
        Assert.Equal("softmax", root.GetProperty("contrast").GetString());
        var words = root.GetProperty("words").EnumerateArray().ToList();
        foreach (var w in words) Assert.InRange(w.GetProperty("imageShare").GetDouble(), 0.0, 1.0);
        for (int i = 1; i <= words.Count; i++) Assert.True(File.Exists(Path.Combine(outDir, $"pic.word{i:D2}.gradcam.png")));
        // The same caption as the paper rules: the rules change the explanation only.
        var paper = CliRunner.Run("caption", image, "--model", Fixture("first-step"), "--json", "-", "--max-words", "6");
        using var paperDoc = JsonDocument.Parse(paper.Stdout);
        Assert.Equal(paperDoc.RootElement.GetProperty("caption").GetString(), root.GetProperty("caption").GetString());
        Assert.Equal("paper", paperDoc.RootElement.GetProperty("rules").GetString());
        var again = CliRunner.Run("caption", image, "--model", Fixture("first-step"), "--rules", "weighted", "--json", "-", "--max-words", "6");
        Assert.Equal(WithoutTimings(json).Replace(Path.Combine(outDir, ""), ""), WithoutTimings(again.Stdout).Replace(Path.Combine(outDir, ""), ""));
    }

    [Theory]
    [InlineData("--rules", "greedy")]
    [InlineData("--contrast", "mean")]
    [InlineData("--gradcam", null)]
    public void Bad_rule_options_are_usage_errors(string option, string? value)
    {
        string dir = TestPaths.NewTempDir();
        string image = Picture(dir, "pic.png", 7);
        var args = new List<string> { "caption", image, "--model", Fixture("first-step"), "--json", "-", option };
        if (value != null) args.Add(value);
        var r = CliRunner.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Contains(option, r.Stderr);
    }

    [Fact]
    public void Max_words_cuts_the_caption()
    {
        string dir = TestPaths.NewTempDir();
        string image = Picture(dir, "pic.png", 7);
        var r = CliRunner.Run("caption", image, "--model", Fixture("first-step"), "--json", "-", "--max-words", "1");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(1, doc.RootElement.GetProperty("words").GetArrayLength());
    }

    [Fact]
    public void A_folder_gives_results_jsonl_with_an_error_row_for_a_bad_file()
    {
        string dir = TestPaths.NewTempDir(), inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        Picture(inDir, "a.png", 1);
        Picture(inDir, "b.png", 2);
        File.WriteAllText(Path.Combine(inDir, "c.png"), "not a png");
        var r = CliRunner.Run("caption", inDir, "--model", Fixture("first-step"), "--out", outDir, "--jobs", "2", "--report");
        Assert.Equal(1, r.ExitCode);
        var lines = File.ReadAllLines(Path.Combine(outDir, "results.jsonl"));
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"caption\"", lines[0]);
        Assert.Contains("\"caption\"", lines[1]);
        Assert.Contains("\"error\"", lines[2]);
        Assert.True(File.Exists(Path.Combine(outDir, "report.html")));
        Assert.False(File.Exists(Path.Combine(outDir, "c.json")));
    }

    [Fact]
    public void Json_of_a_folder_is_json_lines_in_input_order()
    {
        string dir = TestPaths.NewTempDir(), inDir = Path.Combine(dir, "in");
        Directory.CreateDirectory(inDir);
        Picture(inDir, "a.png", 1);
        Picture(inDir, "b.png", 2);
        var r = CliRunner.Run("caption", inDir, "--model", Fixture("first-step"), "--json", "-", "--quiet", "--jobs", "2");
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var a = JsonDocument.Parse(lines[0]);
        using var b = JsonDocument.Parse(lines[1]);
        Assert.EndsWith("a.png", a.RootElement.GetProperty("image").GetString());
        Assert.EndsWith("b.png", b.RootElement.GetProperty("image").GetString());
    }

    [Fact]
    public void Skip_existing_keeps_finished_images_and_their_documents()
    {
        string dir = TestPaths.NewTempDir(), inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        Picture(inDir, "a.png", 1);
        Picture(inDir, "b.png", 2);
        Assert.Equal(0, CliRunner.Run("caption", inDir, "--model", Fixture("first-step"), "--out", outDir, "--quiet").ExitCode);
        string a = Path.Combine(outDir, "a.json");
        File.WriteAllText(a, File.ReadAllText(a).Replace("\"caption\":\"", "\"caption\":\"KEPT "));
        File.Delete(Path.Combine(outDir, "b.json")); // b counts as not done
        var r = CliRunner.Run("caption", inDir, "--model", Fixture("first-step"), "--out", outDir, "--skip-existing");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("1 skipped as done", r.Stdout);
        var lines = File.ReadAllLines(Path.Combine(outDir, "results.jsonl"));
        Assert.Contains("KEPT ", lines[0]);
        Assert.DoesNotContain("KEPT ", lines[1]);
        Assert.Equal(2, CliRunner.Run("caption", inDir, "--model", Fixture("first-step"), "--skip-existing").ExitCode);
    }

    /// <summary>Copies a fixture captioner (and the encoder it names) into a temp folder so that a test can break one part.</summary>
    private static string CopyCaptioner(string entry, Action<string, JsonElementEditor> edit)
    {
        string dir = TestPaths.NewTempDir(), cap = Path.Combine(dir, "cap");
        Directory.CreateDirectory(cap);
        File.Copy(Path.Combine(CaptionerTests.Fixtures, "encoder.onnx"), Path.Combine(dir, "encoder.onnx"));
        foreach (var f in Directory.GetFiles(Fixture(entry))) File.Copy(f, Path.Combine(cap, Path.GetFileName(f)));
        var editor = new JsonElementEditor(Path.Combine(cap, "captioner.json"));
        edit(cap, editor);
        editor.Save();
        return cap;
    }

    public sealed class JsonElementEditor(string path)
    {
        public System.Text.Json.Nodes.JsonNode Root { get; } = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        public void Save() => File.WriteAllText(path, Root.ToJsonString());
    }

    private static void AssertFails(string captioner, string expected, int code = 1)
    {
        string dir = TestPaths.NewTempDir(), outDir = Path.Combine(dir, "out");
        string image = Picture(dir, "pic.png", 3);
        var r = CliRunner.Run("caption", image, "--model", captioner, "--out", outDir);
        Assert.Equal(code, r.ExitCode);
        var errorLines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(errorLines);
        Assert.Contains(expected, errorLines[0]);
        Assert.StartsWith("error: ", errorLines[0]);
        Assert.True(!Directory.Exists(outDir) || Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Length == 0, "nothing may be written");
    }

    [Fact]
    public void A_decoder_without_an_lstm_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => File.Copy(Path.Combine(CaptionerTests.Fixtures, "gru-decoder.onnx"), Path.Combine(cap, "decoder.onnx"), true)),
            "is not an LSTM captioner step: it holds 0 LSTM ops");

    [Fact]
    public void A_decoder_without_the_named_inputs_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => File.Copy(Path.Combine(cap, "..", "encoder.onnx"), Path.Combine(cap, "decoder.onnx"), true)),
            "the manifest's decoder.word 'word' is not an input of the graph");

    [Fact]
    public void A_vocabulary_that_does_not_match_the_logits_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => File.AppendAllText(Path.Combine(cap, "vocab.txt"), "extra\n")),
            "the decoder's logits have");

    [Fact]
    public void A_manifest_naming_a_missing_decoder_tensor_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => m.Root["decoder"]!["logits"] = "no_such_tensor"), "'no_such_tensor' is not a tensor of the graph");

    [Fact]
    public void A_manifest_naming_a_missing_encoder_tensor_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => m.Root["encoder"]!["feature"] = "no_such_feature"), "the encoder has no tensor 'no_such_feature'");

    [Fact]
    public void A_feature_of_the_wrong_size_is_refused() =>
        // The encoder's first conv output has 4x8x8 values, the decoder reads 8.
        AssertFails(CopyCaptioner("first-step", (cap, m) => m.Root["encoder"]!["feature"] = "/conv1/Conv_output_0"), "the decoder reads 8");

    [Fact]
    public void A_start_token_missing_from_the_vocabulary_is_refused() =>
        AssertFails(CopyCaptioner("initial-state", (cap, m) => m.Root["start"] = "<begin>"), "the start token '<begin>' is not in the vocabulary");

    [Fact]
    public void A_wrong_image_entry_is_refused() =>
        AssertFails(CopyCaptioner("first-step", (cap, m) => { m.Root["image"] = System.Text.Json.Nodes.JsonNode.Parse("{\"entry\":\"initial-state\",\"h\":\"logits\"}"); }),
            "the image enters as the initial state");

    [Fact]
    public void A_manifest_that_is_not_json_is_refused()
    {
        string cap = CopyCaptioner("first-step", (_, _) => { });
        File.WriteAllText(Path.Combine(cap, "captioner.json"), "{ nope");
        AssertFails(cap, "is not valid JSON");
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        Assert.Equal(2, CliRunner.Run("caption").ExitCode);
        string dir = TestPaths.NewTempDir();
        string image = Picture(dir, "pic.png", 3);
        var r = CliRunner.Run("caption", image, "--model", Fixture("first-step"), "--max-words", "0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--max-words", r.Stderr);
    }
}

public class DemoCaptionerTests
{
    [Fact]
    public void The_bundled_demonstration_captioner_captions_a_collage_and_grounds_its_words_in_the_image()
    {
        // A 2x2 collage of the bundled sample photos (not ImageNet images): cat top-left, bird bottom-right.
        string dir = TestPaths.NewTempDir();
        var cat = ImageLoader.Load(Path.Combine(TestPaths.Samples, "cat.png"));
        var bird = ImageLoader.Load(Path.Combine(TestPaths.Samples, "bird.png"));
        string image = Path.Combine(dir, "collage.png");
        File.WriteAllBytes(image, MapImages.EncodePng(CnnFixations.Captioning.Collage.Compose(new[] { cat, null, null, bird })));
        var r = CliRunner.Run("caption", image, "--json", "-", "--quiet");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("first-step", root.GetProperty("imageEntry").GetString());
        Assert.Equal(454, root.GetProperty("width").GetInt32());
        var words = root.GetProperty("words").EnumerateArray().ToList();
        Assert.NotEmpty(words);
        Assert.Matches("^(an? [a-z]+)( and an? [a-z]+)*$", root.GetProperty("caption").GetString()!);
        foreach (var w in words.Where(w => w.GetProperty("word").GetString() is not ("a" or "an" or "and")))
        {
            Assert.NotEqual(0, w.GetProperty("points").GetArrayLength());
            foreach (var p in w.GetProperty("points").EnumerateArray())
            {
                Assert.InRange(p[0].GetInt32(), 0, 453);
                Assert.InRange(p[1].GetInt32(), 0, 453);
            }
        }
    }
}
