using System.Security.Cryptography;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Fixtures;

/// <summary>
/// Parity of <c>--rules paper</c> with the independent reference (tools/reference/cnn_fixations_reference.py) on
/// quantized networks (issue 12): the QDQ fixtures of tests/fixtures/qdq (made by
/// tools/fixtures/make_qdq_fixtures.py: a VGG with int8 weights and uint8 activations, a fully int8 MobileNetV2)
/// and the bundled MobileNetV2 (uint8 weights behind DequantizeLinear) on the photos in samples/. The expected
/// files are tests/CnnFixations.Tests/Reference/quantized/*.json.
/// <para>
/// The bundled model's activations are float: the reference computed those cases from its own float32 forward
/// pass. The QDQ fixtures quantize their activations too, and there a float simulation of QuantizeLinear (exact
/// per the ONNX spec) and ONNX Runtime can round a value near a rounding boundary to neighbouring integers,
/// because their float sums differ in the last bits (vgg16_qdq: 253 activations one quantization step apart);
/// that moved one fixation of 238 (vgg16_qdq, allpositive). So the reference was given ONNX Runtime's values of
/// the tensors the walk reads (its --activations option, the dump of tools/reference/dump/dump_forward.cs) and
/// the walk rules are compared on the same numbers; the JSON records the sha256 of those values. Where this
/// machine's ONNX Runtime gives other values (other CPU kernels), the comparison can only be approximate: the
/// same target and at most 2% of the fixations different (docs/cnn-fixations.md, "Quantized networks").
/// </para>
/// </summary>
public class QuantizedReferenceTests
{
    private static string QdqFixtures => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "qdq");
    private static string Expected => Path.Combine(TestPaths.Reference, "quantized");

    private static readonly string[] Variants = { "", "refine", "allpositive" };

    public static TheoryData<string, string> QdqCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.GetDirectories(QdqFixtures).OrderBy(d => d, StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            foreach (var variant in Variants)
                if (File.Exists(ExpectedFile(name, variant))) data.Add(name, variant);
        }
        return data;
    }

    public static TheoryData<string, string> PhotoCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var photo in new[] { "cat", "bird", "grace_hopper" })
            foreach (var variant in Variants)
                if (File.Exists(ExpectedFile("bundled." + photo, variant))) data.Add(photo, variant);
        return data;
    }

    [Fact]
    public void There_are_quantized_cases()
    {
        // Both QDQ fixtures with three variants each, and three photos with two.
        Assert.Equal(6, QdqCases().Count);
        Assert.Equal(6, PhotoCases().Count);
    }

    [Theory]
    [MemberData(nameof(QdqCases))]
    public void Paper_walk_matches_the_reference_on_QDQ_fixtures(string name, string variant)
    {
        var (modelPath, input) = QdqFixture(name);
        string file = ExpectedFile(name, variant);
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var activations = doc.RootElement.GetProperty("activations");
        var names = activations.GetProperty("names").EnumerateArray().Select(e => e.GetString()!).ToList();
        // The tensors the reference was given, from this machine's forward pass (the refine option fetches them all).
        using var fetcher = new Explainer(OnnxModel.Load(modelPath), OptionsFor("refine"));
        using var values = fetcher.Forward(input);
        bool same = activations.GetProperty("sha256").GetString() == Sha256(names.Select(n => values[n].Data));
        AssertSameFixations(modelPath, input, variant, file, same ? 0 : 0.02);
    }

    [Theory]
    [MemberData(nameof(PhotoCases))]
    public void Paper_walk_matches_the_reference_on_the_bundled_model_and_photos(string photo, string variant)
    {
        string file = ExpectedFile("bundled." + photo, variant);
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        string image = Path.Combine(TestPaths.RepoRoot, doc.RootElement.GetProperty("input").GetString()!);
        var model = OnnxModel.Load(TestPaths.BundledModel);
        var pre = Preprocessing.FromMetadata(model.Metadata) ?? throw new InvalidOperationException("the bundled model names its preprocessing");
        var shape = model.FixedInputShape()!;
        var input = ExplanationInput.FromImage(image, pre, shape[2], shape[3]).Tensor;
        // The reference ran on the tensor the product's preprocessing made from the photo (dumped by
        // tools/reference/dump/dump_forward.cs); a change of the resampler or the decoder shows here first.
        Assert.Equal(doc.RootElement.GetProperty("inputSha256").GetString(), Sha256(new[] { input.Data }));
        AssertSameFixations(TestPaths.BundledModel, input, variant, file);
    }

    /// <summary>
    /// ONNX Runtime's logits of the QDQ fixtures agree with the reference's float simulation up to the rounding
    /// differences described above (a quantization step here and there): same top class, logits within 0.01.
    /// </summary>
    [Theory]
    [InlineData("vgg16_qdq")]
    [InlineData("mobilenet_v2_qdq")]
    public void Onnx_runtime_logits_of_QDQ_fixtures_match_the_reference(string name)
    {
        var (modelPath, input) = QdqFixture(name);
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(QdqFixtures, name, "fixture.json")));
        var expected = meta.RootElement.GetProperty("reference_logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var explainer = new Explainer(OnnxModel.Load(modelPath), UnravelOptions.Paper);
        using var values = explainer.Forward(input);
        var logits = values[explainer.LogitsTensor].Data;
        Assert.Equal(expected.Length, logits.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - logits[i]) <= 1e-2, $"logit {i}: {logits[i]} vs reference {expected[i]}");
        Assert.Equal(meta.RootElement.GetProperty("reference_argmax").GetInt32(), Array.IndexOf(logits, logits.Max()));
    }

    /// <summary>The fixtures hold int8 initializers behind DequantizeLinear (what issue 12's parity failures needed).</summary>
    [Theory]
    [InlineData("vgg16_qdq")]
    [InlineData("mobilenet_v2_qdq")]
    public void QDQ_fixtures_have_int8_weights_and_quantized_activations(string name)
    {
        var model = OnnxModel.Load(QdqFixture(name).Model);
        var dq = model.Nodes.Where(n => n.OpType == "DequantizeLinear").ToList();
        Assert.Contains(dq, n => model.IsInitializer(n.Inputs[0]) && model.Initializer(n.Inputs[0]).DataType == (int)CnnFixations.Onnx.Proto.TensorProto.Types.DataType.Int8);
        Assert.Contains(dq, n => !model.IsConstant(n.Inputs[0]));
        Assert.Contains(model.Nodes, n => n.OpType == "QuantizeLinear");
    }

    private static (string Model, TensorValue Input) QdqFixture(string name)
    {
        string dir = Path.Combine(QdqFixtures, name);
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "fixture.json")));
        string inputPath = Path.GetFullPath(Path.Combine(dir, meta.RootElement.GetProperty("input").GetString()!));
        var (shape, data) = NpyFile.ReadFloat32(inputPath);
        return (Path.Combine(dir, meta.RootElement.GetProperty("model").GetString()!), new TensorValue(shape, data));
    }

    private static string ExpectedFile(string stem, string variant) =>
        Path.Combine(Expected, variant.Length == 0 ? stem + ".json" : $"{stem}.{variant}.json");

    private static UnravelOptions OptionsFor(string variant) => variant switch
    {
        "refine" => new UnravelOptions { Rules = RuleFamily.Paper, ConvPosition = ConvPosition.Refine },
        "allpositive" => new UnravelOptions { Rules = RuleFamily.Paper, FcSpatialAllPositive = true },
        _ => UnravelOptions.Paper,
    };

    /// <param name="tolerance">The share of fixations allowed to differ (0: the sets must be equal).</param>
    private static void AssertSameFixations(string modelPath, TensorValue input, string variant, string expectedFile, double tolerance = 0)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(expectedFile));
        int target = doc.RootElement.GetProperty("target").GetInt32();
        var expected = doc.RootElement.GetProperty("inputFixations").EnumerateArray()
            .Select(t => string.Join(",", t.EnumerateArray().Select(v => v.GetInt32()))).ToList();
        using var explainer = new Explainer(OnnxModel.Load(modelPath), OptionsFor(variant));
        var result = explainer.Explain(input);
        Assert.Equal(target, result.Target);
        var actual = result.Fixations.Input.ToNeurons().Select(n => string.Join(",", n)).ToList();
        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        string message = $"{expected.Count} expected, {actual.Count} found; missing e.g. [{string.Join(" ", missing)}], extra e.g. [{string.Join(" ", extra)}]";
        if (tolerance == 0)
        {
            Assert.True(missing.Count == 0 && extra.Count == 0 && actual.Count == expected.Count, message);
            return;
        }
        int differing = expected.Except(actual).Count() + actual.Except(expected).Count();
        Assert.True(differing <= tolerance * expected.Count,
            $"ONNX Runtime's forward values differ here from those the reference was given, so {tolerance:P0} may differ: {message}");
    }

    private static string Sha256(IEnumerable<float[]> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var data in tensors)
        {
            var bytes = new byte[data.Length * 4];
            Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
