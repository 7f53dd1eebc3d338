using CnnFixations.Baselines;
using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Tests.Unravel;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CnnFixations.Tests.Baselines;

/// <summary>The backward pass run by ONNX Runtime as graph nodes against the project's own backward pass (<see cref="GradientEngine"/>).</summary>
public class GradientGraphTests
{
    /// <summary>Model files whose backward graph is expected to be unsupported (they fall back to the engine), with the reason.</summary>
    private static readonly Dictionary<string, string> ExpectedUnsupported = new(StringComparer.Ordinal)
    {
        ["exports/small_bn_dynamic_opset7"] = "opset 7: the backward graph's ops need opset 11 or later (the engine differentiates it)",
        ["exports/small_bn_dynamic_opset9"] = "opset 9: the backward graph's ops need opset 11 or later (the engine differentiates it)",
        ["exports/zfnet"] = "its flatten's shape is computed at run time, so the logits' shape is not static; and LRN has no backward rule in either pass (OpCoverageTests lists it)",
    };

    /// <summary>Every fixture model with class scores: the tiny networks, the exports, the quantized real model, and the bundled one.</summary>
    private static List<string> ModelNames() => TinyFixture.All().Select(f => f.ToString()).Append("bundled")
        .Concat(Directory.EnumerateDirectories(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "exports")).Select(d => "exports/" + Path.GetFileName(d)).Order(StringComparer.Ordinal))
        .Concat(Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "real"), "*.onnx").Select(f => "real/" + Path.GetFileName(f)).Order(StringComparer.Ordinal))
        .ToList();

    public static TheoryData<string> Models() => new(ModelNames());

    private static (OnnxModel Model, TensorValue Input) Load(string name)
    {
        if (name == "bundled" || name.StartsWith("exports/", StringComparison.Ordinal) || name.StartsWith("real/", StringComparison.Ordinal))
        {
            string path = name == "bundled" ? TestPaths.BundledModel
                : name.StartsWith("exports/", StringComparison.Ordinal) ? Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", name, "model.onnx")
                : Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", name);
            // channel-last and uint8 inputs become float32 [N,C,H,W] as the explainer sees them; free axes: batch 1, 32x32 images
            var model = InputAdapter.Adapt(OnnxModel.Load(path)).Model;
            int size = name == "exports/zfnet" ? 128 : 32; // the sizes the export tests use
            var shape = model.InputShape.Select((d, i) => d > 0 ? d : i == 0 ? 1 : size).ToArray();
            var rng = new Random(3);
            var data = new float[Shapes.ElementCount(shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
            return (model, new TensorValue(shape, data));
        }
        var fixture = TinyFixture.Parse(name);
        return (OnnxModel.Load(fixture.ModelPath), fixture.LoadInput());
    }

    /// <summary>
    /// The rules, exactly: the graph session also returns every activation the engine reads, so both backward
    /// passes see the same forward values (the extra outputs keep ONNX Runtime from fusing ops).
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Graph_gradients_equal_the_engine_on_the_same_forward_values(string name) =>
        ForEachCase(name, (model, x, graph, engine, from, target) =>
        {
            var (gradient, forward) = RunWithActivations(model, graph, engine.FetchedTensors, x, target);
            forward[model.InputName] = x;
            var expected = engine.Backward(forward, target, stopAt: from)[graph.Source];
            AssertClose(expected, gradient, 1e-4, $"{name} d logit[{target}] / d {graph.Source}");
        });

    /// <summary>
    /// As used (ONNX Runtime free to fuse Conv+BN, Conv+Relu): the forward values differ from the engine's
    /// unfused ones in the last bits, which can flip the mask of a ReLU input within ~1e-5 of 0 (seen once in
    /// inception_v3_bn: one BN output of 360 in Mixed_7b). Such a flip changes the gradient of everything below
    /// it a little (2% relative L2 error for one class there), so here the whole gradient must agree within 5% (relative
    /// L2), the activation within 1e-4; <see cref="Graph_gradients_equal_the_engine_on_the_same_forward_values"/> checks the rules exactly.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Graph_gradients_match_the_engine_as_run(string name) =>
        ForEachCase(name, (model, x, graph, engine, from, target) =>
        {
            using var session = new GradientGraphSession(model, graph);
            using var result = session.Run(x, target);
            var forward = engine.Forward(x);
            var expected = engine.Backward(forward, target, stopAt: from)[graph.Source];
            double error = Math.Sqrt(expected.Zip(result.Gradient!.Data, (e, a) => (double)(e - a) * (e - a)).Sum() / expected.Sum(e => (double)e * e));
            Assert.True(error <= 0.05, $"{name} d logit[{target}] / d {graph.Source}: relative L2 error {error:G3}");
            if (from != null) AssertClose(forward[from].Data, result.Activation!.Data, 1e-4, $"{name} activation {from}");
        });

    private delegate void Case(OnnxModel model, TensorValue x, GradientGraph graph, GradientEngine engine, string? from, int target);

    /// <summary>Runs <paramref name="check"/> for the input and the Grad-CAM layer as sources, three classes each (top, bottom, middle).</summary>
    private static void ForEachCase(string name, Case check)
    {
        var (model, x) = Load(name);
        string logits = ClassifierHead.FindLogits(model);
        var shapes = ShapeInference.Infer(model, x.Shape);
        string? layer = ClassifierStructure.LastSpatialTensor(model, logits, t => shapes.GetValueOrDefault(t));
        var sources = new List<string?> { null };
        if (layer != null) sources.Add(layer);
        foreach (var from in sources)
        {
            var graph = GradientGraph.TryBuild(model, logits, x.Shape, from, out var unsupported);
            if (graph == null)
            {
                Assert.True(ExpectedUnsupported.ContainsKey(name), $"{name}: unexpectedly unsupported: {unsupported}");
                continue;
            }
            Assert.False(ExpectedUnsupported.ContainsKey(name), $"{name}: expected to be unsupported but the graph builds");
            using var engine = new GradientEngine(model, logits, from: from);
            var scores = engine.Forward(x)[logits].Data;
            var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ToList();
            foreach (int target in new[] { order[0], order[^1], order[scores.Length / 2] }.Distinct())
                check(model, x, graph, engine, from, target);
        }
    }

    private static (float[] Gradient, Dictionary<string, TensorValue> Forward) RunWithActivations(OnnxModel model, GradientGraph graph, IReadOnlyList<string> activations, TensorValue x, int target)
    {
        var addition = graph.Addition.Clone();
        var present = addition.Output.Select(o => o.Name).Concat(model.OutputNames).ToHashSet();
        foreach (var t in activations)
            if (present.Add(t)) addition.Output.Add(new CnnFixations.Onnx.Proto.ValueInfoProto { Name = t });
        using var session = new InferenceSession(model.SerializeWithAddition(addition));
        var seed = new float[Shapes.ElementCount(graph.SeedShape)];
        seed[target] = 1;
        using var input = OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape.Select(d => (long)d).ToArray());
        using var seedValue = OrtValue.CreateTensorValueFromMemory(seed, graph.SeedShape.Select(d => (long)d).ToArray());
        var names = new[] { GradientGraph.GradientOutputName }.Concat(activations).ToArray();
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new[] { model.InputName, GradientGraph.SeedInputName }, new[] { input, seedValue }, names);
        var forward = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        for (int i = 1; i < names.Length; i++)
        {
            var info = results[i].GetTensorTypeAndShape();
            // a uint8/int8 activation (an input adapted from uint8) as the engine sees it: converted to float
            float[] data = info.ElementDataType switch
            {
                TensorElementType.UInt8 => results[i].GetTensorDataAsSpan<byte>().ToArray().Select(b => (float)b).ToArray(),
                TensorElementType.Int8 => results[i].GetTensorDataAsSpan<sbyte>().ToArray().Select(b => (float)b).ToArray(),
                _ => results[i].GetTensorDataAsSpan<float>().ToArray(),
            };
            forward[names[i]] = new TensorValue(info.Shape.Select(d => (int)d).ToArray(), data);
        }
        return (results[0].GetTensorDataAsSpan<float>().ToArray(), forward);
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs(v));
        Assert.True(scale > 0, $"{what}: the expected values are all zeros");
        int worst = 0;
        double diff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            if (d > diff) { diff = d; worst = i; }
        }
        Assert.True(diff <= tolerance * scale, $"{what}: max |diff| {diff:G4} at [{worst}] ({expected[worst]:G6} vs {actual[worst]:G6}), max |value| {scale:G4}");
    }

    [Fact]
    public void Most_fixtures_use_the_graph()
    {
        var names = ModelNames();
        int supported = 0;
        foreach (var name in names)
        {
            var (model, x) = Load(name);
            if (GradientGraph.TryBuild(model, ClassifierHead.FindLogits(model), x.Shape, null, out _) != null) supported++;
        }
        Assert.Equal(26 + 16 + 1, names.Count); // tiny and bundled, exports, real
        Assert.Equal(names.Count - ExpectedUnsupported.Count, supported);
    }

    /// <summary>
    /// x [1,1,3,3] -&gt; Conv 2x2 (weights [[1,-1],[2,0]], bias -1) -&gt; Relu -&gt; Flatten -&gt; Gemm (transB) to 2 logits.
    /// Conv out [6,-1,1,4], Relu mask [1,0,1,1]; the input gradients are worked out by hand.
    /// </summary>
    [Theory]
    [InlineData(0, new float[] { 1, -1, 0, 5, 1, -4, 6, 8, 0 })]
    [InlineData(1, new float[] { 0, 0, 0, 0, -1, 1, 0, -2, 0 })]
    public void Hand_computed_conv_relu_gemm_gradient(int target, float[] expected)
    {
        var model = new GraphBuilder("x", 1, 1, 3, 3)
            .Initializer("w", new[] { 1, 1, 2, 2 }, 1, -1, 2, 0)
            .Initializer("b", new[] { 1 }, -1)
            .Initializer("fc", new[] { 2, 4 }, 1, 2, 3, 4, 0, 1, 0, -1)
            .Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, ("kernel_shape", new[] { 2, 2 }))
            .Node("Relu", new[] { "c" }, new[] { "r" })
            .Node("Flatten", new[] { "r" }, new[] { "f" })
            .Node("Gemm", new[] { "f", "fc" }, new[] { "logits" }, ("transB", 1))
            .Output("logits")
            .Build();
        var x = new TensorValue(new[] { 1, 1, 3, 3 }, new float[] { 1, 0, 2, 3, 1, 0, 0, 2, 1 });
        var graph = GradientGraph.Build(model, "logits", x.Shape);
        using var session = new GradientGraphSession(model, graph);
        using var result = session.Run(x, target);
        Assert.Equal(expected, result.Gradient!.Data);
        // the engine agrees
        using var engine = new GradientEngine(model, "logits");
        Assert.Equal(expected, engine.Backward(engine.Forward(x), target)["x"]);
    }

    [Fact]
    public void An_op_without_a_rule_is_reported()
    {
        var model = new GraphBuilder("x", 1, 1, 2, 2)
            .Node("Elu", new[] { "x" }, new[] { "e" })
            .Node("Flatten", new[] { "e" }, new[] { "logits" })
            .Output("logits")
            .Build();
        Assert.Null(GradientGraph.TryBuild(model, "logits", new[] { 1, 1, 2, 2 }, null, out var why));
        Assert.Contains("Elu", why);
    }

    [Fact]
    public void A_shape_known_only_at_run_time_falls_back_to_the_engine()
    {
        var model = new GraphBuilder("x", 1, 1, 2, 2)
            .Node("Shape", new[] { "x" }, new[] { "s" })
            .Node("Reshape", new[] { "x", "s" }, new[] { "r" })
            .Node("Flatten", new[] { "r" }, new[] { "logits" })
            .Output("logits")
            .Build();
        using var source = new GradientSource(model, "logits", new[] { 1, 1, 2, 2 });
        Assert.False(source.UsesGraph);
        Assert.NotNull(source.FallbackReason);
        using var result = source.Compute(new TensorValue(new[] { 1, 1, 2, 2 }, new float[] { 1, 2, 3, 4 }), 2);
        Assert.Equal(new float[] { 0, 0, 1, 0 }, result.Gradient!.Data);
    }
}
