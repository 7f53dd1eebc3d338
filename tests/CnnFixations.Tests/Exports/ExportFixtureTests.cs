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
    [InlineData("small_nhwc", "weighted")]
    [InlineData("small_softmax", "weighted")]
    [InlineData("small_sigmoid", "weighted")]
    [InlineData("small_postprocessed", "weighted")]
    [InlineData("small_nhwc", "paper")]
    [InlineData("small_softmax", "paper")]
    [InlineData("small_sigmoid", "paper")]
    [InlineData("small_postprocessed", "paper")]
    public void Variants_give_the_same_explanation_as_the_original(string variant, string rules)
    {
        var original = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath("small"), "--json", "-", "--rules", rules);
        var other = CliRunner.Run("explain", ImagePath(variant), "--model", ModelPath(variant), "--json", "-", "--rules", rules);
        Assert.True(original.ExitCode == 0 && other.ExitCode == 0, original.Stderr + other.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(original.Stdout).Replace("/small/", "/x/"),
            ExportVariantTests.WithoutModelFields(other.Stdout).Replace($"/{variant}/", "/x/"));
    }

    /// <summary>
    /// BatchNormalization kept (unfolded) at each opset, with a free batch axis, against the export with BN fused into
    /// the convolutions: the same class and the same fixations (the walk ranks with BN-folded weights).
    /// </summary>
    [Theory]
    [InlineData("small_bn_dynamic_opset7")]
    [InlineData("small_bn_dynamic_opset9")]
    [InlineData("small_bn_dynamic_opset11")]
    [InlineData("small_bn_dynamic_opset13")]
    [InlineData("small_bn_dynamic_opset15")]
    [InlineData("small_bn_dynamic_opset17")]
    public void Unfolded_batchnorm_gives_the_fixations_of_the_fused_export(string variant)
    {
        var fused = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath("small"), "--json", "-");
        var kept = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath(variant), "--json", "-");
        Assert.True(fused.ExitCode == 0 && kept.ExitCode == 0, fused.Stderr + kept.Stderr);
        using var a = JsonDocument.Parse(fused.Stdout);
        using var b = JsonDocument.Parse(kept.Stdout);
        foreach (var key in new[] { "inputFixations", "points", "keptPoints", "box" })
            Assert.Equal(a.RootElement.GetProperty(key).GetRawText(), b.RootElement.GetProperty(key).GetRawText());
        Assert.Equal(a.RootElement.GetProperty("target").GetProperty("index").GetInt32(), b.RootElement.GetProperty("target").GetProperty("index").GetInt32());
    }

    /// <summary>The gradient baselines differentiate through the Transpose in front of an NHWC input: the same maps.</summary>
    [Theory]
    [InlineData("gradient")]
    [InlineData("gradcam")]
    public void Baselines_through_the_nhwc_transpose_are_the_same(string method)
    {
        var original = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath("small"), "--method", method, "--json", "-");
        var nhwc = CliRunner.Run("explain", ImagePath("small_nhwc"), "--model", ModelPath("small_nhwc"), "--method", method, "--json", "-");
        Assert.True(original.ExitCode == 0 && nhwc.ExitCode == 0, original.Stderr + nhwc.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(original.Stdout).Replace("/small/", "/x/"),
            ExportVariantTests.WithoutModelFields(nhwc.Stdout).Replace("/small_nhwc/", "/x/"));
    }

    [Fact]
    public void A_failed_run_writes_no_json_file()
    {
        string dir = TestPaths.NewTempDir();
        string json = Path.Combine(dir, "out.json");
        // A missing image, and a 4-channel model (refused with a clear error): exit 1, no --json file.
        var r = CliRunner.Run("explain", Path.Combine(dir, "missing.png"), "--model", ModelPath("small"), "--json", json);
        Assert.Equal(1, r.ExitCode);
        Assert.False(File.Exists(json), "a failed run left " + json);

        string batch = Path.Combine(dir, "batch");
        Directory.CreateDirectory(batch);
        File.Copy(ImagePath("small"), Path.Combine(batch, "good.png"));
        File.WriteAllText(Path.Combine(batch, "bad.png"), "not an image");
        r = CliRunner.Run("explain", batch, "--model", ModelPath("small"), "--json", json, "--jobs", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.False(File.Exists(json), "a failed batch left " + json);

        // The same run without the bad file succeeds and writes it.
        File.Delete(Path.Combine(batch, "bad.png"));
        r = CliRunner.Run("explain", batch, "--model", ModelPath("small"), "--json", json, "--jobs", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(json));
    }

    [Fact]
    public void Four_channel_models_are_refused_with_a_clear_error_for_images()
    {
        var proto = CnnFixations.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(ModelPath("small")));
        // Widen the first conv to 4 input channels and the declared input to [1,4,32,32].
        var conv = proto.Graph.Node.First(n => n.OpType == "Conv");
        var w = proto.Graph.Initializer.First(t => t.Name == conv.Input[1]);
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(w.RawData.Span).ToArray();
        int outC = (int)w.Dims[0], k = (int)(w.Dims[2] * w.Dims[3]);
        var widened = new float[outC * 4 * k];
        for (int o = 0; o < outC; o++) Array.Copy(values, o * 3 * k, widened, o * 4 * k, 3 * k);
        w.Dims[1] = 4;
        w.RawData = Google.Protobuf.ByteString.CopyFrom(widened.SelectMany(BitConverter.GetBytes).ToArray());
        w.FloatData.Clear();
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = 4;
        string dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir, "rgba.onnx"), json = Path.Combine(dir, "out.json");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var r = CliRunner.Run("explain", ImagePath("small"), "--model", path, "--json", json);
        Assert.Equal(1, r.ExitCode);
        var error = Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("4 channels", error);
        Assert.Contains("--input-tensor", error);
        Assert.False(File.Exists(json));
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
        var error = Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("--size", error);
    }

    [Fact]
    public void Free_spatial_axes_take_the_metadata_input_size()
    {
        var proto = CnnFixations.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(ModelPath("small_dynamic_hw")));
        proto.MetadataProps.Add(new CnnFixations.Onnx.Proto.StringStringEntryProto { Key = "input_size", Value = "32x32" });
        string path = Path.Combine(TestPaths.NewTempDir(), "sized.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var withMetadata = CliRunner.Run("explain", ImagePath("small_dynamic_hw"), "--model", path, "--json", "-");
        var withSize = CliRunner.Run("explain", ImagePath("small_dynamic_hw"), "--model", ModelPath("small_dynamic_hw"), "--size", "32x32", "--json", "-");
        Assert.True(withMetadata.ExitCode == 0 && withSize.ExitCode == 0, withMetadata.Stderr + withSize.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(withSize.Stdout), ExportVariantTests.WithoutModelFields(withMetadata.Stdout));
        Assert.Equal(Reference("small_dynamic_hw").Argmax, JsonDocument.Parse(withMetadata.Stdout).RootElement.GetProperty("target").GetProperty("index").GetInt32());
    }

    [Fact]
    public void BatchNormalization_kept_at_opset_21_gives_the_same_explanation()
    {
        // The opset-17 export declared as opset 21 (BatchNormalization, Conv, pooling and Gemm are unchanged since).
        var proto = CnnFixations.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(ModelPath("small_bn_dynamic_opset17")));
        Assert.Contains(proto.Graph.Node, n => n.OpType == "BatchNormalization");
        proto.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version = 21;
        proto.IrVersion = 10;
        string path = Path.Combine(TestPaths.NewTempDir(), "opset21.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var r21 = CliRunner.Run("explain", ImagePath("small"), "--model", path, "--json", "-");
        var r17 = CliRunner.Run("explain", ImagePath("small"), "--model", ModelPath("small_bn_dynamic_opset17"), "--json", "-");
        Assert.True(r21.ExitCode == 0 && r17.ExitCode == 0, r21.Stderr + r17.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(r17.Stdout), ExportVariantTests.WithoutModelFields(r21.Stdout));
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

public sealed class ImageScalerTests
{
    [Fact]
    public void ImageScaler_at_the_input_is_detected_and_walked_through()
    {
        // An identity ImageScaler (scale 1, bias 0; the op exists up to opset 9) in front of the opset-9 export: detected as
        // in-graph normalization, so the image gets raw values: the same explanation as the original given --preset raw.
        string folder = Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "exports", "small_bn_dynamic_opset9");
        string image = Path.Combine(folder, "image.png");
        var proto = CnnFixations.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        var g = proto.Graph;
        foreach (var n in g.Node)
            for (int i = 0; i < n.Input.Count; i++)
                if (n.Input[i] == "input") n.Input[i] = "scaled";
        var scaler = new CnnFixations.Onnx.Proto.NodeProto { OpType = "ImageScaler", Name = "scaler", Input = { "input" }, Output = { "scaled" } };
        scaler.Attribute.Add(new CnnFixations.Onnx.Proto.AttributeProto { Name = "scale", Type = CnnFixations.Onnx.Proto.AttributeProto.Types.AttributeType.Float, F = 1f });
        scaler.Attribute.Add(new CnnFixations.Onnx.Proto.AttributeProto { Name = "bias", Type = CnnFixations.Onnx.Proto.AttributeProto.Types.AttributeType.Floats, Floats = { 0f, 0f, 0f } });
        g.Node.Insert(0, scaler);
        string path = Path.Combine(TestPaths.NewTempDir(), "scaler.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));

        var inspect = CliRunner.Run("inspect", path);
        Assert.True(inspect.ExitCode == 0, inspect.Stdout + inspect.Stderr);
        Assert.Contains("the graph normalizes its input itself (ImageScaler node 'scaler')", inspect.Stdout);
        var original = CliRunner.Run("explain", image, "--model", Path.Combine(folder, "model.onnx"), "--json", "-", "--preset", "raw");
        var scaled = CliRunner.Run("explain", image, "--model", path, "--json", "-");
        Assert.True(scaled.ExitCode == 0, scaled.Stderr);
        Assert.Equal(ExportVariantTests.WithoutModelFields(original.Stdout), ExportVariantTests.WithoutModelFields(scaled.Stdout));
    }
}
