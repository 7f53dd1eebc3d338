using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Tests.RealModels;

/// <summary>
/// The real (trained, weight-quantized) MobileNets on real photos: the predicted class matches the
/// independent reference runs (ONNX Runtime and a TFLite runtime on the originals, tests/fixtures/real/expected_top5.json)
/// for the photos whose top-1 is stable across resize filters, and the explanation lands on the object.
/// </summary>
public class RealModelTests
{
    private static string SharedModels => Path.Combine(TestPaths.Shared, "models", "real");
    private static string RepoModels => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "real");
    private const string SharedOnlyModel = "mobilenet_v1_0.75_192_quant";
    private const string FloatModel = "models/real/mobilenet_v2_1.0_224_quant.float.onnx";

    /// <summary>The stable cases of the models in the repository (the bundled model and MobileNetV1 0.5).</summary>
    public static TheoryData<string, string, int> StableCases() => Cases(model => model != SharedOnlyModel);

    /// <summary>The stable cases of the model kept only in the shared folder (MobileNetV1 0.75).</summary>
    public static TheoryData<string, string, int> SharedStableCases() => Cases(model => model == SharedOnlyModel);

    private static TheoryData<string, string, int> Cases(Func<string, bool> models)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoModels, "expected_top5.json")));
        var data = new TheoryData<string, string, int>();
        foreach (var model in doc.RootElement.GetProperty("models").EnumerateObject().Where(m => models(m.Name)))
            foreach (var photo in model.Value.EnumerateObject())
                if (photo.Value.GetProperty("top1_stable").GetBoolean())
                    data.Add(model.Name, photo.Name.Replace("imprinting/", ""), photo.Value.GetProperty("float")[0].GetProperty("index").GetInt32());
        return data;
    }

    private static string ModelPath(string name) => name == "mobilenet_v2_1.0_224_quant"
        ? TestPaths.BundledModel
        : name == SharedOnlyModel ? Path.Combine(SharedModels, name + ".qdq.onnx") : Path.Combine(RepoModels, name + ".qdq.onnx");

    /// <summary>The photo from samples/ or tests/fixtures/photos/ (the same files as the reference runs).</summary>
    private static string PhotoPath(string photo)
    {
        string sample = Path.Combine(TestPaths.Samples, photo + ".png");
        return File.Exists(sample) ? sample : Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "photos", photo + ".png");
    }

    [Theory]
    [MemberData(nameof(StableCases))]
    public void Predicts_the_reference_class_and_explains_it(string modelName, string photo, int expected) =>
        CheckPrediction(ModelPath(modelName), PhotoPath(photo), expected);

    [SharedTheory("models/real/" + SharedOnlyModel + ".qdq.onnx", "MobileNetV1 0.75 (2.6 MB, not in the repository)")]
    [MemberData(nameof(SharedStableCases))]
    public void The_shared_model_predicts_the_reference_class_and_explains_it(string modelName, string photo, int expected) =>
        CheckPrediction(ModelPath(modelName), Path.Combine(TestPaths.Shared, "images", photo + ".png"), expected);

    private static void CheckPrediction(string modelPath, string image, int expected)
    {
        Assert.True(File.Exists(modelPath), $"missing {modelPath}");
        Assert.True(File.Exists(image), $"missing {image}");
        var model = OnnxModel.Load(modelPath);
        using var explainer = new Explainer(model);
        var pre = Preprocessing.FromMetadata(model.Metadata)!;
        var input = ExplanationInput.FromImage(image, pre, model.InputShape[2], model.InputShape[3]);
        var e = explainer.Explain(input.Tensor);
        Assert.Equal(expected, e.Target);
        Assert.True(e.Fixations.Input.Count > 0);
        var map = FixationMap.Build(e.Fixations.Input, input);
        Assert.Equal(e.Fixations.Input.Count, map.Points.Count);
        // With few, scattered fixations the spec's outlier rule can remove every point; then there is no box.
        Assert.Equal(map.KeptPoints.Count == 0, map.Box == null);
        Assert.All(map.Points, p => Assert.True(p.X >= 0 && p.X < input.Width && p.Y >= 0 && p.Y < input.Height));
    }

    [SharedFact(FloatModel, "the bundled model with float weights (14 MB, not in the repository)")]
    public void Float_and_quantized_weight_files_give_the_same_walk()
    {
        string floatModel = Path.Combine(TestPaths.Shared, FloatModel);
        var q = OnnxModel.Load(TestPaths.BundledModel);
        var f = OnnxModel.Load(floatModel);
        var pre = Preprocessing.FromMetadata(q.Metadata)!;
        var input = ExplanationInput.FromImage(Path.Combine(TestPaths.Samples, "bird.png"), pre, 224, 224);
        using var eq = new Explainer(q);
        using var ef = new Explainer(f);
        var a = eq.Explain(input.Tensor);
        var b = ef.Explain(input.Tensor);
        Assert.Equal(a.Target, b.Target);
        Assert.Equal(a.Fixations.Input.ToArray(), b.Fixations.Input.ToArray());
    }

    /// <summary>Rough object boxes drawn by hand on the sample photos ([xmin, ymin, xmax, ymax] in pixels).</summary>
    public static TheoryData<string, int, int, int, int> ObjectBoxes() => new()
    {
        { "bird.png", HandBoxes.Bird[0], HandBoxes.Bird[1], HandBoxes.Bird[2], HandBoxes.Bird[3] },
        { "cat.png", HandBoxes.Cat[0], HandBoxes.Cat[1], HandBoxes.Cat[2], HandBoxes.Cat[3] },
        { "grace_hopper.png", HandBoxes.Hopper[0], HandBoxes.Hopper[1], HandBoxes.Hopper[2], HandBoxes.Hopper[3] },
    };

    [Theory]
    [MemberData(nameof(ObjectBoxes))]
    public void The_box_overlaps_the_object_and_the_heat_peak_lies_on_it(string photo, int x0, int y0, int x1, int y1)
    {
        var model = OnnxModel.Load(TestPaths.BundledModel);
        using var explainer = new Explainer(model);
        var input = ExplanationInput.FromImage(Path.Combine(TestPaths.Samples, photo), Preprocessing.FromMetadata(model.Metadata)!, 224, 224);
        var e = explainer.Explain(input.Tensor);
        var map = FixationMap.Build(e.Fixations.Input, input);
        var box = map.Box!;
        double inter = Math.Max(0, Math.Min(box[2], x1) - Math.Max(box[0], x0) + 1) * (double)Math.Max(0, Math.Min(box[3], y1) - Math.Max(box[1], y0) + 1);
        double boxArea = (box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0);
        Assert.True(inter / boxArea >= 0.5, $"only {inter / boxArea:P0} of the box [{string.Join(",", box)}] lies on the object");
        int peak = Array.IndexOf(map.Heat, map.Heat.Max());
        int px = peak % map.Width, py = peak / map.Width;
        Assert.True(px >= x0 && px <= x1 && py >= y0 && py <= y1, $"heat peak ({px},{py}) is off the object");
    }
}

/// <summary>Object boxes drawn by a person looking at the sample photos (not produced by the code under test).</summary>
internal static class HandBoxes
{
    public static readonly int[] Bird = { 35, 78, 485, 310 };     // beak to tail tip, head to feet (512x343)
    public static readonly int[] Cat = { 50, 35, 365, 340 };      // ears to the bottom edge (512x341)
    public static readonly int[] Hopper = { 10, 20, 511, 599 };   // the uniformed person, cap included (512x600)
}
