using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Library;

/// <summary>
/// <see cref="FixationExplainer"/> and <c>explain</c> run one pipeline: for the same options they give the same
/// target, box, points and heat map (the values the JSON and the heat map file carry).
/// </summary>
public class ExplainerMatchesCliTests
{
    private static string Image(string name) => Path.Combine(TestPaths.Samples, name);

    public static TheoryData<string, string[]> Cases => new()
    {
        { "cat.png", Array.Empty<string>() },
        { "bird.png", new[] { "--crops", "five" } },
        { "cat.png", new[] { "--crops", "five", "--class", "tiger cat" } },
        { "grace_hopper.png", new[] { "--crops", "center", "--class", "653" } },
        { "cat.png", new[] { "--method", "gradcam" } },
        { "cat.png", new[] { "--preset", "caffe", "--mean", "100,110,120", "--bgr" } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_library_gives_what_explain_gives_for_the_same_options(string image, string[] cliOptions)
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run(new[] { "explain", Image(image), "--out", dir, "--quiet" }.Concat(cliOptions).ToArray());
            Assert.True(r.ExitCode == 0, r.Stderr);
            string stem = Path.Combine(dir, Path.GetFileNameWithoutExtension(image));
            string? method = Option(cliOptions, "--method");
            // One view explained for a named class: <stem>.<class>.*; five crops: <stem>.*.
            if (Option(cliOptions, "--class") is { } named && Option(cliOptions, "--crops") != "five") stem += "." + named;
            if (method != null) stem += "." + method;
            using var json = JsonDocument.Parse(File.ReadAllBytes(stem + ".json"));
            var root = json.RootElement;
            var (_, heat) = NpyFile.ReadFloat32(stem + ".heatmap.npy");

            using var explainer = FixationExplainer.LoadBundled(new FixationExplainerOptions
            {
                Preset = Option(cliOptions, "--preset"),
                Adjustments = new PreprocessingAdjustments
                {
                    Mean = Option(cliOptions, "--mean")?.Split(',').Select(float.Parse).ToArray(),
                    Bgr = cliOptions.Contains("--bgr"),
                },
            });
            var e = explainer.Explain(Image(image), new ExplainOptions
            {
                Class = Option(cliOptions, "--class"),
                Method = method ?? ExplanationMethods.Fixations,
                Crops = Option(cliOptions, "--crops") switch { "five" => CropMode.Five, "center" => CropMode.Center, _ => CropMode.Whole },
            });

            Assert.Equal(root.GetProperty("target").GetProperty("index").GetInt32(), e.Target);
            Assert.Equal(root.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("index").GetInt32()), e.Predictions.Select(p => p.Index));
            Assert.Equal(Box(root.GetProperty("box")), e.Box);
            Assert.Equal(Points(root, "points"), e.Points);
            if (method == null) Assert.Equal(Points(root, "keptPoints"), e.KeptPoints);
            Assert.Equal(heat, e.HeatMap);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void The_layers_are_those_explain_layers_draws()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run("explain", Image("cat.png"), "--out", dir, "--quiet", "--layers", "--rules", "paper");
            Assert.True(r.ExitCode == 0, r.Stderr);
            var pictures = Directory.GetFiles(Path.Combine(dir, "cat.layers"), "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();

            using var explainer = FixationExplainer.LoadBundled(new FixationExplainerOptions { Walk = UnravelOptionsFor("paper") });
            var e = explainer.Explain(Image("cat.png"), new ExplainOptions { Layers = true });
            Assert.NotNull(e.Layers);
            Assert.True(e.Layers!.Count > 1);
            Assert.Equal(pictures.Count, e.Layers.Count);
            for (int i = 0; i < pictures.Count; i++) Assert.StartsWith($"{i + 1:D3}_", pictures[i]);
            Assert.Equal(e.Points, e.Layers[^1].Points);
            Assert.Throws<CnnFixationsException>(() => explainer.Explain(Image("cat.png"), new ExplainOptions { Layers = true, Crops = CropMode.Five }));
        }
        finally { Directory.Delete(dir, true); }
    }

    private static CnnFixations.Unravel.UnravelOptions UnravelOptionsFor(string rules) =>
        CnnFixations.Unravel.UnravelOptions.Default with { Rules = rules == "paper" ? CnnFixations.Unravel.RuleFamily.Paper : CnnFixations.Unravel.RuleFamily.Weighted };

    private static string? Option(string[] options, string name)
    {
        int i = Array.IndexOf(options, name);
        return i >= 0 ? options[i + 1] : null;
    }

    private static int[]? Box(JsonElement box) => box.ValueKind == JsonValueKind.Null ? null : box.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    /// <summary>A method's document has no points: none.</summary>
    private static List<(int X, int Y)> Points(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var points) ? new List<(int X, int Y)>() : points.EnumerateArray().Select(p => (p[0].GetInt32(), p[1].GetInt32())).ToList();
}
