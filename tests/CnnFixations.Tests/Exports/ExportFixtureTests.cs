using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Exports;

/// <summary>
/// The fixtures of tools/exports/make_exports.py (tests/fixtures/exports): small seeded networks exported as other
/// tools export them, each with PyTorch's logits for its image. Each is explained with the natural command; its
/// logits must match PyTorch's and its top-1 must be PyTorch's.
/// </summary>
public sealed class ExportFixtureTests
{
    private static string Folder(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "exports", name);
    private static string ModelPath(string name) => Path.Combine(Folder(name), "model.onnx");
    private static string ImagePath(string name) => Path.Combine(Folder(name), "image.png");

    private static (double[] Logits, int Argmax) Reference(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder(name), "reference.json")));
        var logits = doc.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        return (logits, doc.RootElement.GetProperty("argmax").GetInt32());
    }

    public static TheoryData<string, string[]> Fixtures => new()
    {
        { "small", [] },
        { "small_nhwc", [] },
        { "small_softmax", [] },
        { "small_sigmoid", [] },
        { "small_postprocessed", [] },
        { "small_uint8_nhwc", [] },
        { "small_ingraph_norm", [] },
        { "small_bn_dynamic_opset7", [] },
        { "small_bn_dynamic_opset9", [] },
        { "small_bn_dynamic_opset11", [] },
        { "small_bn_dynamic_opset13", [] },
        { "small_bn_dynamic_opset15", [] },
        { "small_bn_dynamic_opset17", [] },
        { "small_dynamic_hw", ["--size", "32x32"] },
        { "lenet5", [] },
        { "zfnet", [] },
    };

    /// <summary>The logits the library computes for the fixture's image, the way explain prepares it.</summary>
    private static float[] Logits(string name, int h, int w)
    {
        var adapted = InputAdapter.Adapt(OnnxModel.Load(ModelPath(name)));
        var preprocessing = PreprocessingChoice.For(adapted).Preprocessing;
        using var explainer = new Explainer(adapted.Model);
        var input = ExplanationInput.FromImage(ImagePath(name), preprocessing, h, w);
        using var pass = explainer.Forward(input.Tensor);
        return pass[explainer.LogitsTensor].Data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Logits_and_top1_match_pytorch(string name, string[] options)
    {
        var (reference, argmax) = Reference(name);
        int size = name == "zfnet" ? 128 : 32;
        var logits = Logits(name, size, size);
        Assert.Equal(reference.Length, logits.Length);
        for (int i = 0; i < logits.Length; i++)
            Assert.True(Math.Abs(logits[i] - reference[i]) <= 1e-4 + 1e-4 * Math.Abs(reference[i]), $"{name} logit {i}: {logits[i]} vs PyTorch {reference[i]}");

        var r = CliRunner.Run(new[] { "explain", ImagePath(name), "--model", ModelPath(name), "--json", "-" }.Concat(options).ToArray());
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var target = doc.RootElement.GetProperty("target");
        Assert.Equal(argmax, target.GetProperty("index").GetInt32());
        Assert.Equal(reference[argmax], target.GetProperty("logit").GetDouble(), 1e-4);
        Assert.True(doc.RootElement.GetProperty("inputFixations").GetArrayLength() > 0);
    }

    /// <summary>The same weights behind an NHWC input, behind a Softmax, a Sigmoid, or with label/ZipMap outputs: the same explanation.</summary>
    [Theory]
    [InlineData("small_nhwc")]
    [InlineData("small_softmax")]
    [InlineData("small_sigmoid")]
    [InlineData("small_postprocessed")]
    public void Variants_give_the_same_explanation_as_the_original(string variant)
    {
        var original = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath("small"), "--json", "-");
        var other = CliRunner.Run("explain", ImagePath(variant), "--model", ModelPath(variant), "--json", "-");
        Assert.True(original.ExitCode == 0 && other.ExitCode == 0, original.Stderr + other.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(original.Stdout).Replace("/small/", "/x/"),
            ExportVariantTests.WithoutModelFields(other.Stdout).Replace($"/{variant}/", "/x/"));
    }

    [Fact]
    public void Inspect_reports_layout_channels_preprocessing_and_score_tensor()
    {
        var r = CliRunner.Run("inspect", ModelPath("small_postprocessed"));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("layout:         NCHW", r.Stdout);
        Assert.Contains("channels:       3 (RGB/BGR)", r.Stdout);
        Assert.Contains("preprocessing:  torchvision", r.Stdout);
        Assert.Contains("all lead to it: 'label': ArgMax node", r.Stdout);

        r = CliRunner.Run("inspect", ModelPath("small_uint8_nhwc"));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("layout:         NHWC", r.Stdout);
        Assert.Contains("uint8", r.Stdout);
        Assert.Contains("preprocessing:  raw", r.Stdout);

        r = CliRunner.Run("inspect", ModelPath("small_ingraph_norm"));
        Assert.Contains("the graph normalizes its input itself", r.Stdout);

        r = CliRunner.Run("inspect", ModelPath("lenet5"));
        Assert.Contains("channels:       1 (luminance)", r.Stdout);

        // Only the batch axis is free: the size is known, no "--size" hint.
        r = CliRunner.Run("inspect", ModelPath("small_bn_dynamic_opset13"));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("the batch dimension is free", r.Stdout);
        Assert.DoesNotContain("give --size", r.Stdout);

        r = CliRunner.Run("inspect", ModelPath("small_dynamic_hw"));
        Assert.Contains("not fixed: give --size HxW", r.Stdout);
    }

    [Fact]
    public void Free_spatial_axes_need_size_or_metadata()
    {
        var r = CliRunner.Run("explain", ImagePath("small_dynamic_hw"), "--model", ModelPath("small_dynamic_hw"), "--json", "-");
        Assert.Equal(2, r.ExitCode);
        var error = Assert.Single(r.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)));
        Assert.Contains("--size", error);
    }

    [Fact]
    public void Grayscale_photo_to_rgb_model_and_colour_photo_to_one_channel_model()
    {
        // A colour image to LeNet-5 (one channel) is read as luminance; a grayscale PNG to an RGB model is expanded.
        string dir = TestPaths.NewTempDir();
        string gray = Path.Combine(dir, "gray.png");
        using (var bitmap = Imaging.TestImageFiles.Bitmap(32, 32, (x, y) => ((byte)(x * 7), (byte)(x * 7), (byte)(x * 7))))
        using (var g = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(32, 32, SkiaSharp.SKColorType.Gray8)))
        {
            bitmap.CopyTo(g, SkiaSharp.SKColorType.Gray8);
            File.WriteAllBytes(gray, Imaging.TestImageFiles.Encode(g, SkiaSharp.SKEncodedImageFormat.Png));
        }
        Assert.Equal(0, CliRunner.Run("explain", gray, "--model", ModelPath("small"), "--json", "-").ExitCode);
        Assert.Equal(0, CliRunner.Run("explain", gray, "--model", ModelPath("lenet5"), "--json", "-").ExitCode);
    }
}
