using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Unravel;

/// <summary>
/// The weighted walk run by ONNX Runtime (<see cref="WeightedGraph"/>, <see cref="WalkEngine.Onnx"/>) against the
/// managed rules (<see cref="WalkEngine.Managed"/>, themselves checked against the independent Python reference
/// and hand-worked cases): the same input weights up to float rounding, on every fixture, the quantized ones and
/// the bundled model, for the class walk and for a walk from inner weights.
/// </summary>
public class WeightedGraphTests
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var f in TinyFixture.All()) data.Add(f.ToString());
        data.Add("qdq/mobilenet_v2_qdq");
        data.Add("qdq/vgg16_qdq");
        data.Add("bundled");
        data.Add("exports/zfnet"); // shapes past its Flatten are not known before the forward pass
        data.Add("exports/small_dynamic_hw"); // no fixed input size: shapes inferred for the input given
        data.Add("exports/small_nhwc");
        return data;
    }

    private static (OnnxModel Model, TensorValue Input) Load(string name)
    {
        if (name == "bundled")
        {
            var model = OnnxModel.Load(TestPaths.BundledModel);
            var input = ExplanationInput.FromImage(Path.Combine(TestPaths.RepoRoot, "samples", "cat.png"), Preprocessing.FromMetadata(model.Metadata)!, 224, 224);
            return (model, input.Tensor);
        }
        if (name.StartsWith("exports/", StringComparison.Ordinal))
        {
            var model = OnnxModel.Load(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", name, "model.onnx"));
            using var probe = new Explainer(model);
            var shape = probe.Model.InputShape.Select((d, i) => d > 0 ? d : i == 0 ? 1 : 48).ToArray();
            var random = new Random(7);
            var data = new float[Shapes.ElementCount(shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
            return (model, new TensorValue(shape, data));
        }
        if (name.StartsWith("qdq/", StringComparison.Ordinal))
        {
            string folder = Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", name);
            string stem = Path.GetFileName(folder);
            var source = stem == "vgg16_qdq" ? "vgg16" : "mobilenet_v2";
            var (shape, data) = NpyFile.ReadFloat32(Path.Combine(TestPaths.TinyFixtures, source, "input.npy"));
            return (OnnxModel.Load(Path.Combine(folder, stem + ".onnx")), new TensorValue(shape, data));
        }
        var fixture = TinyFixture.Parse(name);
        return (OnnxModel.Load(fixture.ModelPath), fixture.LoadInput());
    }

    private static void AssertClose(float[] want, float[] got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        double max = want.Max(v => Math.Abs((double)v));
        double tol = 1e-4 * max + 1e-9;
        double sumWant = 0, sumGot = 0, worst = 0;
        int bad = 0;
        for (int i = 0; i < want.Length; i++)
        {
            sumWant += want[i];
            sumGot += got[i];
            double d = Math.Abs((double)want[i] - got[i]);
            worst = Math.Max(worst, d);
            if (d > tol) bad++;
        }
        Assert.True(max > 0, $"{what}: no weight reached the input");
        Assert.True(bad == 0, $"{what}: {bad} of {want.Length} weights differ by more than {tol:G3} (worst {worst:G3}, max {max:G4})");
        Assert.True(Math.Abs(sumWant - sumGot) <= 1e-4 * Math.Max(1, Math.Abs(sumWant)), $"{what}: sums {sumWant:G8} (managed) and {sumGot:G8} (ONNX)");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Onnx_walk_matches_the_managed_rules(string name)
    {
        var (model, input) = Load(name);
        foreach (var options in new[] { UnravelOptions.Default, UnravelOptions.Default with { FlatShare = 0, Contrast = Contrast.None, CellShare = 0 } })
        {
            using var managed = new Explainer(model, options with { WalkEngine = WalkEngine.Managed });
            using var onnx = new Explainer(model, options with { WalkEngine = WalkEngine.Onnx });
            var want = managed.Explain(input);
            var got = onnx.Explain(input);
            Assert.Null(onnx.ManagedWalkReason);
            Assert.Equal(want.Target, got.Target);
            Assert.Equal(want.Weights!.HeadTensors, got.Weights!.HeadTensors);
            AssertClose(want.Weights.Input, got.Weights.Input, $"{name} flat {options.FlatShare}");
        }
    }

    [Theory]
    [InlineData("alexnet/alexnet.onnx")]
    [InlineData("edge_c_matmul/edge_c_matmul.onnx")]
    [InlineData("qdq/vgg16_qdq")]
    public void Fully_connected_weights_fed_as_inputs_give_the_same_walk(string name)
    {
        var (model, input) = Load(name);
        float[] constants, fed;
        using (var explainer = new Explainer(model))
            constants = explainer.Explain(input).Weights!.Input;
        int before = WeightedGraph.LargeWeightElements;
        try
        {
            WeightedGraph.LargeWeightElements = 1; // every fully connected weight matrix becomes a graph input
            using var explainer = new Explainer(model);
            fed = explainer.Explain(input).Weights!.Input;
            Assert.Null(explainer.ManagedWalkReason);
        }
        finally
        {
            WeightedGraph.LargeWeightElements = before;
        }
        AssertClose(constants, fed, name);
    }

    [Theory]
    [InlineData("tiny/resnet18/resnet18.onnx")]
    [InlineData("bundled")]
    public void Onnx_walk_from_inner_weights_matches_the_managed_rules(string name)
    {
        if (name.StartsWith("tiny/", StringComparison.Ordinal)) name = name["tiny/".Length..];
        var (model, input) = Load(name);
        // Start at the input of the first Add (a residual sum): weights on one channel of it.
        string start = model.Nodes.First(n => n.OpType == "Add" && !model.IsConstant(n.Inputs[1])).Outputs[0];
        using var managed = new Explainer(model, UnravelOptions.Default with { WalkEngine = WalkEngine.Managed }, startTensor: start);
        using var onnx = new Explainer(model, UnravelOptions.Default, startTensor: start);
        using var forward = managed.Forward(input);
        using var forward2 = onnx.Forward(input);
        var shape = managed.TensorShape(start)!;
        var weights = new float[Shapes.ElementCount(shape)];
        int plane = shape[2] * shape[3];
        for (int p = 0; p < plane; p++) weights[plane + p] = 1f / plane;
        var want = managed.UnravelFromWeights(forward, weights);
        var got = onnx.UnravelFromWeights(forward2, weights);
        Assert.Null(onnx.ManagedWalkReason);
        AssertClose(want.Weights!.Input, got.Weights!.Input, name);
    }

    [Theory]
    [InlineData(WalkEngine.Managed)]
    [InlineData(WalkEngine.Onnx)]
    public void Walk_from_weights_leaves_the_callers_array_as_it_was(WalkEngine engine)
    {
        var (model, input) = Load("resnet18/resnet18.onnx");
        string start = model.Nodes.First(n => n.OpType == "Add" && !model.IsConstant(n.Inputs[1])).Outputs[0];
        using var explainer = new Explainer(model, UnravelOptions.Default with { WalkEngine = engine }, startTensor: start);
        using var forward = explainer.Forward(input);
        var weights = new float[Shapes.ElementCount(explainer.TensorShape(start)!)];
        for (int i = 0; i < weights.Length; i += 7) weights[i] = 1f / weights.Length;
        var copy = (float[])weights.Clone();
        var first = explainer.UnravelFromWeights(forward, weights).Weights!.Input;
        var second = explainer.UnravelFromWeights(forward, weights).Weights!.Input;
        Assert.Equal(copy, weights);
        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Head_tensors_found_from_the_graph_alone_are_those_of_the_walk(string name)
    {
        // The walk's graph is built before the first forward pass from these; a mismatch would only build it twice.
        var (model, input) = Load(name);
        using var explainer = new Explainer(model);
        var walked = explainer.Explain(input).Weights!.HeadTensors;
        var plan = UnravelPlan.Create(explainer.Model, explainer.LogitsTensor, RuleSet.Default, UnravelOptions.Default);
        Assert.Equal(walked.Order(StringComparer.Ordinal), WeightedWalk.HeadTensorsOf(explainer.Model, plan, explainer.LogitsTensor));
    }

    [Theory]
    [InlineData("googlenet/googlenet.onnx")]
    [InlineData("bundled")]
    public void Onnx_walk_is_the_same_at_every_thread_count(string name)
    {
        // The walk alone: every explainer walks the same forward values (ONNX Runtime's own forward pass may round
        // differently with more threads than cores; that is not the walk's doing).
        var (model, input) = Load(name);
        using var reference = new Explainer(model, intraOpThreads: 1);
        using var forward = reference.Forward(input);
        int top = Explainer.TopClasses(forward[reference.LogitsTensor].Data, 1)[0];
        float[]? first = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var explainer = new Explainer(model, intraOpThreads: threads);
            var weights = explainer.Unravel(forward, top).Weights!.Input;
            Assert.Null(explainer.ManagedWalkReason);
            if (first == null) first = weights;
            else Assert.Equal(first, weights);
        }
    }

    [Fact]
    public void Onnx_walk_gives_the_same_weights_on_every_run()
    {
        var (model, input) = Load("bundled");
        using var explainer = new Explainer(model);
        var first = explainer.Explain(input).Weights!.Input;
        for (int run = 0; run < 3; run++)
            Assert.Equal(first, explainer.Explain(input).Weights!.Input);
        using var again = new Explainer(model);
        Assert.Equal(first, again.Explain(input).Weights!.Input);
    }

    [Fact]
    public void Managed_engine_never_builds_a_graph()
    {
        var (model, input) = Load("bundled");
        using var managed = new Explainer(model, UnravelOptions.Default with { WalkEngine = WalkEngine.Managed });
        managed.Explain(input);
        Assert.Equal("--walk-engine managed", managed.ManagedWalkReason);
    }
}

/// <summary>What a user sees when the weighted walk cannot run in ONNX Runtime: the managed rules run, and the CLI says why.</summary>
public class WeightedGraphFallbackTests
{
    /// <summary>x -> 1x1 Conv -> a; a + GlobalAveragePool(a) (a broadcasting Add of two activations) -> Relu -> pool -> Gemm.</summary>
    private static string BroadcastAddModel()
    {
        var random = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.3)).ToArray();
        var bytes = new GraphBuilder("x", 1, 3, 8, 8)
            .Initializer("w", new[] { 2, 3, 1, 1 }, Values(6))
            .Node("Conv", new[] { "x", "w" }, new[] { "a" })
            .Node("GlobalAveragePool", new[] { "a" }, new[] { "b" })
            .Node("Add", new[] { "a", "b" }, new[] { "s" })
            .Node("Relu", new[] { "s" }, new[] { "r" })
            .Node("GlobalAveragePool", new[] { "r" }, new[] { "p" })
            .Node("Flatten", new[] { "p" }, new[] { "f" })
            .Initializer("fc", new[] { 3, 2 }, Values(6))
            .Node("Gemm", new[] { "f", "fc" }, new[] { "y" }, ("transB", 1))
            .Output("y").Bytes();
        string path = Path.Combine(TestPaths.NewTempDir(), "broadcast-add.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_rule_without_graph_form_runs_managed_with_the_same_weights_and_the_reason()
    {
        var model = OnnxModel.Load(BroadcastAddModel());
        var random = new Random(5);
        var input = new TensorValue(new[] { 1, 3, 8, 8 }, Enumerable.Range(0, 192).Select(_ => (float)random.NextDouble()).ToArray());
        using var onnx = new Explainer(model);
        using var managed = new Explainer(model, UnravelOptions.Default with { WalkEngine = WalkEngine.Managed });
        var got = onnx.Explain(input).Weights!.Input;
        Assert.Equal(managed.Explain(input).Weights!.Input, got);
        Assert.Contains("broadcast", onnx.ManagedWalkReason);
    }

    [Fact]
    public void The_cli_says_once_why_the_walk_ran_managed()
    {
        string model = BroadcastAddModel();
        string outDir = TestPaths.NewTempDir();
        var r = CnnFixations.Tests.Cli.CliRunner.Run("explain", Path.Combine(TestPaths.RepoRoot, "samples", "cat.png"), "--model", model, "--preset", "torchvision", "--out", outDir);
        Assert.Equal(0, r.ExitCode);
        Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("note: the weighted walk ran in the managed kernels", StringComparison.Ordinal) && l.Contains("broadcast"));
        var quiet = CnnFixations.Tests.Cli.CliRunner.Run("explain", Path.Combine(TestPaths.RepoRoot, "samples", "cat.png"), "--model", model, "--preset", "torchvision", "--out", TestPaths.NewTempDir(), "-q");
        Assert.DoesNotContain("note:", quiet.Stderr);
    }
}
