using System.Text.Json;
using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Tests.Cli;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CnnFixations.Tests.Captioning;

/// <summary>
/// The seeded tiny captioners of tests/fixtures/captioning (tools/captioning/make_tiny_captioner.py):
/// the C# decoder against ONNX Runtime's LSTM and against PyTorch-weight reference values, the word
/// walk against the independent NumPy implementation, and the command line.
/// </summary>
public class CaptionerTests
{
    public static string Fixtures => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "captioning");
    /// <summary>"written-cell" is the first-step captioner with its LSTM cell written out in MatMul/Gemm, Sigmoid, Tanh, Mul, Add (same weights, same reference).</summary>
    public static readonly TheoryData<string> Entries = new() { "first-step", "initial-state", "written-cell" };

    private static TensorValue Input()
    {
        var (shape, data) = NpyFile.ReadFloat32(Path.Combine(Fixtures, "input.npy"));
        return new TensorValue(shape, data);
    }

    private static JsonElement Reference(string entry)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "reference.json")));
        return doc.RootElement.GetProperty(entry == "written-cell" ? "first-step" : entry).Clone();
    }

    /// <summary>The fixture captioner; the paper rules unless told (the kept-set references are the paper walk's).</summary>
    internal static Captioner Load(string entry, CnnFixations.Unravel.UnravelOptions? rules = null) => new(CaptionerManifest.Load(Path.Combine(Fixtures, entry)), rules ?? CnnFixations.Unravel.UnravelOptions.Paper);

    [Theory, MemberData(nameof(Entries))]
    public void Decoder_steps_equal_onnx_runtime_lstm(string entry)
    {
        using var captioner = Load(entry);
        var (feature, forward) = captioner.Encode(Input());
        forward.Dispose();
        var (steps, _) = captioner.Decode(feature, 6);
        using var session = new InferenceSession(captioner.Manifest.DecoderModel);
        int hidden = captioner.Decoder.Hidden;
        var f = feature.Select(v => (float)v).ToArray();
        float[] h = new float[hidden], c = new float[hidden];
        if (entry == "initial-state")
        {
            var init = RunStep(session, 0, f, h, c);
            h = init["h_init"]; c = init["c_init"];
            var (h0, c0) = captioner.Decoder.InitialState(feature);
            AssertClose(h0, h, 1e-5);
            AssertClose(c0, c, 1e-5);
        }
        for (int t = 0; t < steps.Count; t++)
        {
            bool image = entry != "initial-state" && t == 0;
            var ort = RunStep(session, steps[t].Token, image ? f : new float[f.Length], h, c);
            AssertClose(steps[t].H, ort["h_out"], 1e-5);
            AssertClose(steps[t].C, ort["c_out"], 1e-5);
            AssertClose(steps[t].Logits, ort["logits"], 1e-4);
            h = ort["h_out"]; c = ort["c_out"];
        }
    }

    private static Dictionary<string, float[]> RunStep(InferenceSession session, int word, float[] feature, float[] h, float[] c)
    {
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("word", new DenseTensor<long>(new long[] { word }, new[] { 1 })),
            NamedOnnxValue.CreateFromTensor("feature", new DenseTensor<float>(feature, new[] { 1, feature.Length })),
            NamedOnnxValue.CreateFromTensor("h", new DenseTensor<float>(h, new[] { 1, 1, h.Length })),
            NamedOnnxValue.CreateFromTensor("c", new DenseTensor<float>(c, new[] { 1, 1, c.Length })),
        };
        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    [Theory, MemberData(nameof(Entries))]
    public void Gates_caption_and_probabilities_equal_the_pytorch_weight_reference(string entry)
    {
        var reference = Reference(entry);
        using var captioner = Load(entry);
        var input = Input();
        var (feature, forward) = captioner.Encode(input);
        forward.Dispose();
        AssertClose(feature, reference.GetProperty("feature").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray(), 1e-5);
        var (steps, wordSteps) = captioner.Decode(feature, 6);
        var refSteps = reference.GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal(refSteps.Count, steps.Count);
        for (int t = 0; t < steps.Count; t++)
        {
            // i, f, g, o compared one by one: a wrong ONNX (i,o,f,c) -> PyTorch (i,f,g,o) mapping fails here.
            AssertClose(steps[t].I, Floats(refSteps[t], "i"), 1e-5);
            AssertClose(steps[t].F, Floats(refSteps[t], "f"), 1e-5);
            AssertClose(steps[t].G, Floats(refSteps[t], "g"), 1e-5);
            AssertClose(steps[t].O, Floats(refSteps[t], "o"), 1e-5);
            AssertClose(steps[t].C, Floats(refSteps[t], "c"), 1e-5);
            AssertClose(steps[t].Logits, Floats(refSteps[t], "logits"), 1e-4);
        }
        var result = captioner.Caption(input, 6);
        Assert.Equal(reference.GetProperty("caption").GetString(), result.Caption);
        Assert.True(result.Words.Count >= 2, "the fixture should caption with several words");
        var refWords = reference.GetProperty("words").EnumerateArray().ToList();
        for (int i = 0; i < refWords.Count; i++)
            Assert.Equal(refWords[i].GetProperty("probability").GetDouble(), result.Words[i].Probability, 5);
    }

    [Theory, MemberData(nameof(Entries))]
    public void Word_walk_keeps_the_reference_hidden_units_and_feature_dims(string entry)
    {
        var reference = Reference(entry);
        using var captioner = Load(entry);
        var full = captioner.Caption(Input(), 6);
        var cellOnly = captioner.Caption(Input(), 6, new CaptionWalkOptions { CellPathOnly = true });
        var refWords = reference.GetProperty("words").EnumerateArray().ToList();
        var refCell = reference.GetProperty("cellPathOnly").EnumerateArray().ToList();
        Assert.Equal(refWords.Count, full.Words.Count);
        bool anyDifference = false, anyFeature = false;
        for (int i = 0; i < refWords.Count; i++)
        {
            Assert.Equal(Ints(refWords[i], "hidden"), full.Words[i].Decoder.HiddenUnits);
            Assert.Equal(Ints(refWords[i], "features"), full.Words[i].Decoder.FeatureDims);
            Assert.Equal(refCell[i].EnumerateArray().Select(v => v.GetInt32()).ToArray(), cellOnly.Words[i].Decoder.FeatureDims);
            Assert.True(cellOnly.Words[i].Decoder.FeatureDims.All(full.Words[i].Decoder.FeatureDims.Contains), "the cell path is part of the full walk");
            anyDifference |= cellOnly.Words[i].Decoder.FeatureDims.Length != full.Words[i].Decoder.FeatureDims.Length;
            anyFeature |= full.Words[i].Decoder.FeatureDims.Length > 0;
            // Words that reach the feature reach the input pixels through the CNN walk.
            Assert.Equal(full.Words[i].Decoder.FeatureDims.Length > 0, full.Words[i].InputFixations.Count > 0);
        }
        Assert.True(anyFeature, "some word should reach the image feature");
        _ = anyDifference; // informative only: on some fixtures the recurrent path adds nothing
    }

    [Fact]
    public void Cnn_part_of_the_walk_is_the_channel_start_union()
    {
        // From the chosen feature dims the walk is the existing walker's: the union over the chosen
        // channels equals the union of separate --start TENSOR:c walks.
        using var captioner = Load("first-step");
        var input = Input();
        var result = captioner.Caption(input, 6);
        var word = result.Words.First(w => w.Decoder.FeatureDims.Length > 1);
        using var forward = captioner.Explainer.Forward(input);
        var union = new HashSet<int>();
        foreach (int m in word.Decoder.FeatureDims)
        {
            var e = captioner.Explainer.UnravelFrom(forward, new CnnFixations.Unravel.StartPoint(captioner.Manifest.FeatureTensor, m, null));
            foreach (int i in e.Fixations.Input.Indices()) union.Add(i);
        }
        Assert.Equal(union.Order().ToArray(), word.InputFixations.ToArray());
    }

    private static double[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();
    private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static void AssertClose(IReadOnlyList<double> actual, IReadOnlyList<float> expected, double tol) =>
        AssertClose(actual, expected.Select(v => (double)v).ToArray(), tol);

    private static void AssertClose(IReadOnlyList<double> actual, IReadOnlyList<double> expected, double tol)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < actual.Count; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol * Math.Max(1, Math.Abs(expected[i])), $"[{i}]: {actual[i]} vs {expected[i]}");
    }
}
