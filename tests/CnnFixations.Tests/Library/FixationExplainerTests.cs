using CnnFixations.Imaging;
using CnnFixations.Onnx;
using SkiaSharp;

namespace CnnFixations.Tests.Library;

/// <summary>The library's entry point against the lower-level pipeline it wraps, and its resource handling.</summary>
public class FixationExplainerTests
{
    private static string Cat => Path.Combine(TestPaths.Samples, "cat.png");

    [Fact]
    public void Explains_a_file_as_the_lower_level_pipeline_does()
    {
        using var explainer = FixationExplainer.Load(TestPaths.BundledModel);
        var e = explainer.Explain(Cat);

        var model = OnnxModel.Load(TestPaths.BundledModel);
        using var reference = new Explainer(model);
        var input = ExplanationInput.FromImage(Cat, Preprocessing.FromMetadata(model.Metadata)!, 224, 224);
        var walk = reference.Explain(input.Tensor);
        var map = FixationMap.Build(walk, input);

        Assert.Equal(walk.Target, e.Target);
        Assert.Equal(286, e.Target); // Egyptian cat (1001 outputs, 0 = background)
        Assert.Equal("Egyptian cat", e.TargetLabel);
        Assert.Equal(walk.Predictions.Select(p => p.Index), e.Predictions.Select(p => p.Index));
        Assert.Equal(map.Points, e.Points);
        Assert.Equal(map.KeptPoints, e.KeptPoints);
        Assert.Equal(map.Box, e.Box);
        Assert.Equal(map.Heat, e.HeatMap);
        Assert.Equal((512, 341), (e.Width, e.Height));
        Assert.Equal(e.Width * e.Height, e.HeatMap.Length);
        Assert.Equal(Cat, e.ImagePath);
        Assert.Empty(e.Warnings);
        Assert.True(e.Timings.ForwardMs > 0 && e.Timings.UnravelMs > 0);
        Assert.True(e.Timings.TotalMs >= e.Timings.ForwardMs + e.Timings.UnravelMs);
        Assert.Equal(224, explainer.InputHeight);
        var metadata = Preprocessing.FromMetadata(model.Metadata)!;
        Assert.Equal(metadata.Mean, explainer.Preprocessing.Mean);
        Assert.Equal(metadata.Std, explainer.Preprocessing.Std);
        Assert.Equal(metadata.Scale, explainer.Preprocessing.Scale);
    }

    [Fact]
    public void A_stream_a_decoded_image_and_a_bitmap_give_the_same_explanation_as_the_file()
    {
        using var explainer = FixationExplainer.Load(TestPaths.BundledModel);
        var fromFile = explainer.Explain(Cat);
        using var stream = File.OpenRead(Cat);
        var fromStream = explainer.Explain(stream);
        var fromImage = explainer.Explain(ImageLoader.Load(Cat));
        using var bitmap = SKBitmap.Decode(Cat);
        var fromBitmap = explainer.Explain(bitmap);
        foreach (var other in new[] { fromStream, fromImage, fromBitmap })
        {
            Assert.Equal(fromFile.Target, other.Target);
            Assert.Equal(fromFile.Points, other.Points);
            Assert.Equal(fromFile.Box, other.Box);
        }
        Assert.Null(fromStream.ImagePath);
    }

    [Fact]
    public void A_class_given_by_name_or_index_is_explained()
    {
        using var explainer = FixationExplainer.LoadBundled();
        var byName = explainer.Explain(Cat, new ExplainOptions { Class = "tiger cat" });
        Assert.Equal(283, byName.Target);
        Assert.Equal("tiger cat", byName.TargetLabel);
        var byIndex = explainer.Explain(Cat, new ExplainOptions { Class = "283" });
        Assert.Equal(byName.Points, byIndex.Points);
        var e = Assert.Throws<CnnFixationsException>(() => explainer.Explain(Cat, new ExplainOptions { Class = "1001" }));
        Assert.Contains("out of range", e.Message);
    }

    [Fact]
    public void A_preset_replaces_the_models_preprocessing()
    {
        using var byMetadata = FixationExplainer.LoadBundled();
        using var byPreset = FixationExplainer.LoadBundled(new FixationExplainerOptions { Preset = "caffe" });
        Assert.Equal(Preprocessing.Caffe.Mean, byPreset.Preprocessing.Mean);
        Assert.True(byPreset.Preprocessing.Bgr);
        Assert.NotEqual(byMetadata.Preprocessing.Mean, byPreset.Preprocessing.Mean);
    }

    [Fact]
    public void The_overlay_and_heat_map_are_written_as_pngs_of_the_image_size()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            using var explainer = FixationExplainer.LoadBundled();
            var e = explainer.Explain(Cat);
            string overlay = Path.Combine(dir, "sub", "cat.overlay.png"), heat = Path.Combine(dir, "cat.heat.png");
            e.SaveOverlayPng(overlay);
            e.SaveHeatMapPng(heat);
            foreach (var png in new[] { overlay, heat })
            {
                var decoded = ImageLoader.Load(png);
                Assert.Equal((e.Width, e.Height), (decoded.Width, decoded.Height));
            }
            Assert.Equal(File.ReadAllBytes(overlay), e.OverlayPng());
            Assert.Throws<ArgumentOutOfRangeException>(() => e.OverlayPng(1.5));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_disposed_explainer_refuses_work_and_bad_input_is_one_line()
    {
        var explainer = FixationExplainer.LoadBundled();
        var e = Assert.Throws<CnnFixationsException>(() => explainer.Explain(Path.Combine(TestPaths.Samples, "missing.png")));
        Assert.Contains("missing.png", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        explainer.Dispose();
        explainer.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => explainer.Explain(Cat));
        Assert.Throws<CnnFixationsException>(() => FixationExplainer.Load(Path.Combine(TestPaths.Samples, "no-such-model.onnx")));
    }

    [Fact]
    public void The_input_size_of_a_model_without_a_fixed_size_must_be_given()
    {
        var fixedModel = OnnxModel.Load(TestPaths.BundledModel);
        Assert.Equal((224, 224), ModelConventions.ResolveInputSize(fixedModel));
        Assert.Equal((224, 224), ModelConventions.ResolveInputSize(fixedModel, (224, 224)));
        var e = Assert.Throws<CnnFixationsException>(() => ModelConventions.ResolveInputSize(fixedModel, (160, 160)));
        Assert.Contains("conflicts with the model's fixed input size 224x224", e.Message);
        Assert.Equal(1, ModelConventions.LabelOffset(fixedModel));
    }

    /// <summary>The API's methods come from the one registry that explain and evaluate use, and give the maps the method classes give.</summary>
    [Fact]
    public void Other_methods_come_from_the_registry_and_give_their_own_map()
    {
        using var explainer = FixationExplainer.LoadBundled();
        var input = ExplanationInput.FromImage(Cat, explainer.Preprocessing, explainer.InputHeight, explainer.InputWidth);
        foreach (string name in ExplanationMethods.Baselines)
        {
            var e = explainer.Explain(Cat, new ExplainOptions { Method = name });
            Assert.Equal(name, e.Method);
            Assert.Equal(286, e.Target);
            Assert.Null(e.Walk);
            Assert.Empty(e.Points);
            var expected = ExplanationMethods.Create(name).Compute(explainer.Engine, input, 286);
            Assert.Equal(expected.Heat, e.HeatMap);
            Assert.Equal(CnnFixations.Maps.BoxFinder.FromThreshold(expected.Heat, e.Width, e.Height, 0.5), e.Box);
        }
        Assert.Equal(ExplanationMethods.Fixations, explainer.Explain(Cat).Method);
        var unknown = Assert.Throws<CnnFixationsException>(() => explainer.Explain(Cat, new ExplainOptions { Method = "lime" }));
        Assert.Equal("unknown method 'lime'; available: fixations, cam, gradcam, gradient, center, whole-image", unknown.Message);
    }

    [Fact]
    public void One_registry_serves_explain_evaluate_and_the_api()
    {
        Assert.Equal(new[] { "fixations", "cam", "gradcam", "gradient" }, ExplanationMethods.ExplainNames);
        Assert.Equal(new[] { "cam", "gradcam", "gradient" }, ExplanationMethods.Baselines);
        Assert.Equal(new[] { "center", "whole-image" }, ExplanationMethods.All.Where(m => m.Kind == MethodKind.Reference).Select(m => m.Name));
        foreach (var m in ExplanationMethods.All) Assert.Equal(m.Name, m.Create(MapOptions.Default).Name);
        // explain --method accepts exactly the registry's explanation methods and "all"
        var help = new StringWriter();
        CnnFixations.Cli.CliApp.Run(new[] { "explain", "--help" }, help, new StringWriter());
        Assert.Contains("fixations (CNN Fixations), cam, gradcam, gradient, or all", help.ToString());
        var error = new StringWriter();
        Assert.NotEqual(0, CnnFixations.Cli.CliApp.Run(new[] { "explain", "--method", "center", Cat }, new StringWriter(), error));
    }

    /// <summary>The per-view pipeline that explain runs: the k best targets, each with its fixation map and every baseline's map.</summary>
    [Fact]
    public void The_view_pipeline_explains_the_k_best_with_every_method()
    {
        using var explainer = FixationExplainer.LoadBundled();
        var input = ExplanationInput.FromImage(Cat, explainer.Preprocessing, explainer.InputHeight, explainer.InputWidth);
        IReadOnlyList<Prediction>? early = null;
        var view = ViewPipeline.Explain(explainer.Engine, input, new ViewRequest { TopK = 2, Method = "all", Maps = MapOptions.Weighted }, p => early = p);
        Assert.Same(view.Predictions, early);
        Assert.Equal(view.Predictions.Take(2).Select(p => p.Index), view.Targets.Select(t => t.Walk.Target));
        foreach (var t in view.Targets)
        {
            Assert.Equal(FixationMap.Build(t.Walk, input, MapOptions.Weighted).Heat, t.Fixations!.Heat);
            Assert.Equal(ExplanationMethods.Baselines, t.Baselines.Select(b => b.Name));
            foreach (var b in t.Baselines)
                Assert.Equal(ExplanationMethods.Create(b.Name).Compute(explainer.Engine, input, t.Walk.Target).Heat, b.Map!.Heat);
        }
        // the API's explanation is the pipeline's first target
        var e = explainer.Explain(Cat);
        Assert.Equal(view.Targets[0].Fixations!.Box, e.Box);
        Assert.Equal(view.Targets[0].Walk.Target, e.Target);
        var error = Assert.Throws<CnnFixationsException>(() => ViewPipeline.Explain(explainer.Engine, input, new ViewRequest { Method = "lime" }));
        Assert.Contains("unknown method 'lime'", error.Message);
    }
}
