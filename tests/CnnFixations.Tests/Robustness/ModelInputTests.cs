using CnnFixations.Unravel;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;
using CnnFixations.Tests.Cli;
using Google.Protobuf;
using SkiaSharp;
using static CnnFixations.Tests.Imaging.TestImageFiles;

namespace CnnFixations.Tests.Robustness;

/// <summary>
/// Bad and unusual models through the command line: every bad one fails with exit code 1 (2 where the
/// fix is an option) and one line that names the file, tensor, op or node and what was expected.
/// </summary>
public sealed class ModelInputTests : IClassFixture<Scratch>
{
    private readonly Scratch _s;
    private readonly string _image;

    public ModelInputTests(Scratch scratch)
    {
        _s = scratch;
        string path = Path.Combine(_s.Dir, "photo.png");
        if (!File.Exists(path))
        {
            using var bitmap = Bitmap(24, 20, (x, y) => ((byte)(10 * x), (byte)(12 * y), (byte)(x * y)));
            File.WriteAllBytes(path, Encode(bitmap, SKEncodedImageFormat.Png));
        }
        _image = path;
    }

    private static CliResult Explain(string model, params string[] more) =>
        CliRunner.Run(new[] { "explain", "--model", model, "--json", "-" }.Concat(more).ToArray());

    private string Save(ModelProto proto, string name) => NetBuilder.Save(proto, _s.NewDir(), name);

    private string SaveNpy(string name, int[] shape, Func<int, float> value)
    {
        string path = Path.Combine(_s.NewDir(), name);
        using var f = File.Create(path);
        long n = Shapes.ElementCount(shape);
        NpyFile.WriteFloat32(f, shape, Enumerable.Range(0, (int)n).Select(value).ToArray());
        return path;
    }

    [Fact]
    public void Missing_model()
    {
        string path = Path.Combine(_s.Dir, "nope.onnx");
        Expect.Failure(Explain(path, _image), 1, path, "not found");
    }

    [Fact]
    public void Empty_model()
    {
        string path = _s.File("empty.onnx", []);
        Expect.Failure(Explain(path, _image), 1, path, "empty");
    }

    [Fact]
    public void Truncated_model()
    {
        var bytes = File.ReadAllBytes(_s.Model);
        string path = _s.File("cut.onnx", bytes[..(bytes.Length / 2)]);
        Expect.Failure(Explain(path, _image), 1, path, "not a valid ONNX model");
    }

    [Fact]
    public void Random_bytes_model()
    {
        var bytes = new byte[4096];
        new Random(11).NextBytes(bytes);
        string path = _s.File("noise.onnx", bytes);
        Expect.Failure(Explain(path, _image), 1, path, "not a valid ONNX model");
    }

    [Fact]
    public void Every_prefix_of_a_model_fails_cleanly_or_loads()
    {
        // Cutting a model anywhere gives either a parse error or a smaller graph; neither may crash.
        var bytes = File.ReadAllBytes(_s.Model);
        for (int cut = 0; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 97))
        {
            try
            {
                var model = OnnxModel.FromBytes(bytes[..cut]);
                using var explainer = new Explainer(model, UnravelOptions.Paper);
            }
            catch (CnnFixationsException) { }
        }
    }

    [Fact]
    public void Feature_extractor_is_not_a_classifier()
    {
        // x -> Conv -> Relu: the output [1,4,16,16] is a feature map, not class scores.
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Relu();
        string output = net.MarkOutput();
        var declared = net.Proto();
        NetBuilder.DeclareOutputShape(declared, output, 1, 4, 16, 16);
        Expect.Failure(Explain(Save(declared, "features.onnx"), _image), 1, output, "[1,4,16,16]", "not a classifier");

        // Without a declared shape it is found after the forward pass.
        Expect.Failure(Explain(Save(net.Proto(), "features2.onnx"), _image), 1, output, "[1,4,16,16]", "not a classifier");
    }

    [Fact]
    public void Several_outputs_the_classifier_is_found_by_its_shape()
    {
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Relu();
        string features = net.MarkOutput();
        net.Head(5);
        string logits = net.Current;
        var proto = net.Proto();
        NetBuilder.DeclareOutputShape(proto, features, 1, 4, 16, 16);
        NetBuilder.DeclareOutputShape(proto, logits, 1, 5);
        string path = Save(proto, "two_outputs.onnx");
        var json = Expect.Success(Explain(path, _image));
        Assert.Equal(5, json.GetProperty("predictions").GetArrayLength());

        // --output names it explicitly; naming the feature map is refused with the reason.
        Expect.Success(Explain(path, _image, "--output", logits));
        Expect.Failure(Explain(path, _image, "--output", features), 1, features, "not a classifier");
        Expect.Failure(Explain(path, _image, "--output", "nothing"), 1, "'nothing' is not a tensor of the model", features, logits);
    }

    [Fact]
    public void Two_classifier_outputs_need_output_name()
    {
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Relu().GlobalAveragePool().Flatten();
        string flat = net.Current;
        net.Gemm(3);
        string first = net.MarkOutput();
        var proto = net.Proto();
        // A second head on the same features.
        var w = new TensorProto { Name = "w2", DataType = 1 };
        w.Dims.AddRange(new long[] { 7, 4 });
        w.FloatData.AddRange(Enumerable.Range(0, 28).Select(i => (i % 5 - 2) / 3f));
        proto.Graph.Initializer.Add(w);
        var gemm = new NodeProto { OpType = "Gemm", Name = "second_head" };
        gemm.Input.AddRange(new[] { flat, "w2" });
        gemm.Output.Add("second");
        gemm.Attribute.Add(new AttributeProto { Name = "transB", I = 1, Type = AttributeProto.Types.AttributeType.Int });
        proto.Graph.Node.Add(gemm);
        proto.Graph.Output.Add(new ValueInfoProto { Name = "second", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        NetBuilder.DeclareOutputShape(proto, first, 1, 3);
        NetBuilder.DeclareOutputShape(proto, "second", 1, 7);
        string path = Save(proto, "two_heads.onnx");

        Expect.Failure(Explain(path, _image), 1, "2 outputs", first, "second", "--output");
        var json = Expect.Success(Explain(path, _image, "--output", "second"));
        Assert.Equal(5, json.GetProperty("predictions").GetArrayLength());
        Assert.InRange(json.GetProperty("target").GetProperty("index").GetInt32(), 0, 6);
    }

    [Fact]
    public void Dynamic_input_size_asks_for_size()
    {
        var proto = Scratch.StandardNet().Proto();
        NetBuilder.SetInputShape(proto, 1, 3, -1, -1);
        string path = Save(proto, "dynamic.onnx");
        Expect.Failure(Explain(path, _image), 2, "not fixed", "--size");
        var json = Expect.Success(Explain(path, _image, "--size", "20x12"));
        Assert.Equal(24, json.GetProperty("width").GetInt32());
        ImageInputTests.AssertPointsInside(json, 24, 20);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Input_with_other_than_three_channels_says_what_the_model_expects(int channels)
    {
        var proto = Scratch.StandardNet(channels).Proto();
        string path = Save(proto, $"c{channels}.onnx");
        // One channel takes the image's luminance; four (RGBA?) are refused for images.
        if (channels == 1) Expect.Success(Explain(path, _image));
        else Expect.Failure(Explain(path, _image), 1, $"{channels} channels", "--input-tensor");

        // A tensor with the model's channels is explained; one with other channels is refused with both counts.
        string good = SaveNpy("good.npy", new[] { 1, channels, 16, 16 }, i => (i % 7) / 7f);
        var json = Expect.Success(Explain(path, "--input-tensor", good));
        Assert.True(json.GetProperty("inputFixations").GetArrayLength() >= 0);
        string bad = SaveNpy("bad.npy", new[] { 1, 3, 16, 16 }, i => (i % 5) / 5f);
        Expect.Failure(Explain(path, "--input-tensor", bad), 1, $"expects {channels} input channel", "the input has 3");
    }

    [Fact]
    public void Unsupported_op_on_the_path_is_named_with_its_node()
    {
        // Sin is a valid ONNX op that ONNX Runtime runs, but no unravel rule covers it.
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Unary("Sin").Head(3);
        string path = Save(net.Proto(), "sin.onnx");
        Expect.Failure(Explain(path, _image), 1, "Sin node 'sin", "not supported");
    }

    [Fact]
    public void Op_from_another_domain_on_the_path_is_named_with_its_domain()
    {
        // com.microsoft Gelu runs in ONNX Runtime; the walk has rules for default-domain ops only.
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Unary("Gelu", "com.microsoft").Head(3);
        var proto = net.Proto();
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        Expect.Failure(Explain(Save(proto, "gelu.onnx"), _image), 1, "com.microsoft.Gelu node 'gelu", "domain 'com.microsoft'", "not supported");

        // A domain ONNX Runtime does not know fails when the session is created, naming the node.
        var other = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1).Unary("Warp", "org.example.vision").Head(3).Proto();
        other.OpsetImport.Add(new OperatorSetIdProto { Domain = "org.example.vision", Version = 1 });
        Expect.Failure(Explain(Save(other, "custom.onnx"), _image), 1, "org.example.vision.Warp node 'warp", "does not implement");
    }

    /// <summary>The standard net with its first Conv weight moved into weights.bin beside the model.</summary>
    private (string Model, string Data) WithExternalWeights()
    {
        string dir = _s.NewDir();
        var proto = Scratch.StandardNet().Proto();
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        var bytes = w.FloatData.SelectMany(BitConverter.GetBytes).ToArray();
        string data = Path.Combine(dir, "weights.bin");
        File.WriteAllBytes(data, new byte[16].Concat(bytes).ToArray()); // 16 bytes of something else first
        w.FloatData.Clear();
        w.DataLocation = TensorProto.Types.DataLocation.External;
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString() });
        return (NetBuilder.Save(proto, dir, "external.onnx"), data);
    }

    [Fact]
    public void External_data_is_read_from_beside_the_model()
    {
        var (model, _) = WithExternalWeights();
        var withExternal = Expect.Success(Explain(model, _image));
        var inline = Expect.Success(Explain(_s.Model, _image));
        Assert.Equal(inline.GetProperty("inputFixations").GetRawText(), withExternal.GetProperty("inputFixations").GetRawText());
    }

    [Fact]
    public void Missing_external_data_file_is_named()
    {
        var (model, data) = WithExternalWeights();
        File.Delete(data);
        Expect.Failure(Explain(model, _image), 1, model, "external data file 'weights.bin' not found");
    }

    [Fact]
    public void Short_external_data_file_is_named()
    {
        var (model, data) = WithExternalWeights();
        File.WriteAllBytes(data, new byte[40]);
        Expect.Failure(Explain(model, _image), 1, "weights.bin", "too short");
    }

    [Fact]
    public void Nan_weights_stop_the_run_and_say_where_they_are()
    {
        var weights = Enumerable.Range(0, 4 * 3 * 3 * 3).Select(i => i == 5 ? float.NaN : (i % 7 - 3) / 10f).ToArray();
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1, weights: weights).Relu().Head(3);
        Expect.Failure(Explain(Save(net.Proto(), "nan.onnx"), _image), 1, "class scores", "NaN", "weights 'w0' of Conv node 'conv0'");
    }

    [Fact]
    public void Infinite_scores_stop_the_run()
    {
        // Positive weights on a bright input give features in the thousands; the largest float as the
        // last layer's weights then overflows float32.
        var net = new NetBuilder(3, 16, 16).Conv(4, 3, pad: 1, weights: Enumerable.Repeat(0.1f, 108).ToArray()).Relu()
            .GlobalAveragePool().Flatten().Gemm(3, Enumerable.Repeat(float.MaxValue, 12).ToArray());
        net.MarkOutput();
        string tensor = SaveNpy("bright.npy", new[] { 1, 3, 16, 16 }, _ => 1000f);
        Expect.Failure(Explain(Save(net.Proto(), "inf.onnx"), "--input-tensor", tensor), 1, "class scores", "infinite");
    }

    [Fact]
    public void Nan_in_a_walked_activation_with_finite_scores_is_reported_as_a_warning()
    {
        // A 1x1 Conv, then a stride-2 1x1 Conv that never reads odd positions: a NaN input pixel at an
        // odd position makes the first activation NaN there, but not the scores.
        var net = new NetBuilder(3, 8, 8).Conv(4, 1).Relu().Conv(4, 1, stride: 2).Relu().Head(3);
        string tensor = SaveNpy("nan.npy", new[] { 1, 3, 8, 8 }, i => i == 9 ? float.NaN : (i % 11) / 11f);
        var json = Expect.Success(Explain(Save(net.Proto(), "skip.onnx"), "--input-tensor", tensor, "--rules", "paper"));
        var warnings = json.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        // Only the activations the walk fetches are checked (the pre-ReLU Conv output is not fetched):
        // the first Relu holds one NaN per channel, the input one.
        Assert.True(warnings.Count == 2, string.Join(" | ", warnings));
        Assert.Contains("activation 'relu3' holds 4 NaN values of 256: fixations are not followed through them", warnings);
        Assert.Contains("activation 'x' holds 1 NaN value of 192: fixations are not followed through them", warnings);

        // The weighted walk reads every tensor it goes through: the same two, and the pre-ReLU Conv output too.
        var weighted = Expect.Success(Explain(Save(net.Proto(), "skipw.onnx"), "--input-tensor", tensor))
            .GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Contains("activation 'relu3' holds 4 NaN values of 256: fixations are not followed through them", weighted);
        Assert.Contains("activation 'x' holds 1 NaN value of 192: fixations are not followed through them", weighted);

        // A clean input gives no warning.
        string clean = SaveNpy("clean.npy", new[] { 1, 3, 8, 8 }, i => (i % 11) / 11f);
        json = Expect.Success(Explain(Save(net.Proto(), "skip2.onnx"), "--input-tensor", clean));
        Assert.Equal(0, json.GetProperty("warnings").GetArrayLength());
    }

    [Fact]
    public void Huge_declared_input_size_is_refused_before_allocating()
    {
        // A model that declares a 60000x60000 input: resizing an image to it would need 10 GB.
        var proto = Scratch.StandardNet().Proto();
        NetBuilder.SetInputShape(proto, 1, 3, 60000, 60000);
        Expect.Failure(Explain(Save(proto, "huge.onnx"), _image), 1, "60000x60000", "larger than");
    }

    [Fact]
    public void Non_float_input_is_refused_with_its_type()
    {
        var proto = Scratch.StandardNet().Proto();
        proto.Graph.Input[0].Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Int32;
        Expect.Failure(Explain(Save(proto, "int32.onnx"), _image), 1, "int32", "float32", "uint8");
    }
}
