using CnnFixations.Unravel;
using CnnFixations.Baselines;
using CnnFixations.Imaging;
using CnnFixations.Tests.Fixtures;
using CnnFixations.Tests.Unravel;

namespace CnnFixations.Tests.Baselines;

public class SaliencyMethodTests
{
    // x [1,2,2,2] -> GlobalAveragePool -> Flatten -> Gemm(W [3,2], transB) -> logits
    private static (Explainer, ExplanationInput) Tiny()
    {
        var model = new GraphBuilder("x", 1, 2, 2, 2)
            .Node("GlobalAveragePool", new[] { "x" }, new[] { "p" })
            .Node("Flatten", new[] { "p" }, new[] { "f" })
            .Initializer("W", new[] { 3, 2 }, 1, 0.5f, -1, 1, 0, 0)
            .Node("Gemm", new[] { "f", "W" }, new[] { "logits" }, ("transB", 1))
            .Output("logits").Build();
        string npy = Path.Combine(TestPaths.NewTempDir(), "x.npy");
        using (var s = File.Create(npy))
            NpyFile.WriteFloat32(s, new[] { 1, 2, 2, 2 }, new float[] { 1, 2, 3, 4, 4, 3, 2, 1 });
        return (new Explainer(model, UnravelOptions.Paper), ExplanationInput.FromNpy(npy));
    }

    [Fact]
    public void Cam_is_the_class_weighted_sum_of_the_pooled_maps()
    {
        var (explainer, input) = Tiny();
        using var _ = explainer;
        // class 0: 1*ch0 + 0.5*ch1 = (3, 3.5, 4, 4.5); shifted to min 0 and scaled to max 1: (0, 1/3, 2/3, 1).
        var map = new CamMethod().Compute(explainer, input, 0);
        Assert.Equal(new[] { 0f, 1f / 3, 2f / 3, 1f }, map.Heat, new FloatTolerance(1e-5f));
    }

    [Fact]
    public void GradCam_weights_the_channels_by_their_mean_gradient()
    {
        var (explainer, input) = Tiny();
        using var _ = explainer;
        // d logit0 / d x[c] = W[0,c] / 4 everywhere: alpha = (0.25, 0.125); ReLU(0.25 ch0 + 0.125 ch1) = (0.75, 0.875, 1, 1.125) / 1.125.
        var map = new GradCamMethod().Compute(explainer, input, 0);
        Assert.Equal(new[] { 0.75f / 1.125f, 0.875f / 1.125f, 1f / 1.125f, 1f }, map.Heat, new FloatTolerance(1e-5f));
        // class 1: alpha = (-0.25, 0.25): ReLU(-0.25 ch0 + 0.25 ch1) = (0.75, 0.25, 0, 0) / 0.75.
        map = new GradCamMethod().Compute(explainer, input, 1);
        Assert.Equal(new[] { 1f, 1f / 3, 0f, 0f }, map.Heat, new FloatTolerance(1e-5f));
    }

    [Fact]
    public void Gradient_is_the_largest_absolute_input_gradient_over_channels()
    {
        var (explainer, input) = Tiny();
        using var _ = explainer;
        var map = new GradientMethod().Compute(explainer, input, 0); // max(|1/4|, |0.5/4|) everywhere
        Assert.All(map.Heat, v => Assert.Equal(1f, v));
        map = new GradientMethod().Compute(explainer, input, 2);     // W row 2 is zero: no gradient
        Assert.All(map.Heat, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Cam_does_not_apply_to_a_net_with_fully_connected_layers_on_a_spatial_map()
    {
        using var explainer = new Explainer(CnnFixations.Onnx.OnnxModel.Load(new TinyFixture("vgg16", "vgg16.onnx").ModelPath), UnravelOptions.Paper);
        Assert.NotNull(new CamMethod().NotApplicable(explainer));
        Assert.Null(new GradCamMethod().NotApplicable(explainer));
    }

    [Theory]
    [InlineData("resnet18/resnet18.onnx")]
    [InlineData("squeezenet1_1/squeezenet1_1.onnx")]
    [InlineData("googlenet/googlenet.onnx")]
    [InlineData("edge_b_convgap/edge_b_convgap.onnx")]
    [InlineData("mobilenet_v2/mobilenet_v2.onnx")]
    public void Every_method_gives_a_finite_normalized_map_on_global_pooling_nets(string name)
    {
        var fixture = TinyFixture.Parse(name);
        using var explainer = new Explainer(CnnFixations.Onnx.OnnxModel.Load(fixture.ModelPath), UnravelOptions.Paper);
        string npy = Path.Combine(TestPaths.NewTempDir(), "x.npy");
        File.Copy(fixture.InputPath, npy);
        var input = ExplanationInput.FromNpy(npy);
        foreach (ISaliencyMethod method in new ISaliencyMethod[] { new FixationsMethod(), new CamMethod(), new GradCamMethod(), new GradientMethod() })
        {
            Assert.Null(method.NotApplicable(explainer));
            var map = method.Compute(explainer, input, 0);
            Assert.Equal(input.Width * input.Height, map.Heat.Length);
            Assert.All(map.Heat, v => Assert.InRange(v, 0f, 1f));
            Assert.Equal(1f, map.Heat.Max());
        }
    }

    /// <summary>
    /// The explainer owns the gradient sessions its methods create (no process-wide cache): disposing it
    /// disposes each of them, and a method used afterwards says so instead of reaching a freed session.
    /// </summary>
    [Fact]
    public void Disposing_the_explainer_disposes_its_gradient_sessions()
    {
        var fixture = TinyFixture.Parse("resnet18/resnet18.onnx");
        var explainer = new Explainer(CnnFixations.Onnx.OnnxModel.Load(fixture.ModelPath), UnravelOptions.Paper);
        string npy = Path.Combine(TestPaths.NewTempDir(), "x.npy");
        File.Copy(fixture.InputPath, npy);
        var input = ExplanationInput.FromNpy(npy);
        Assert.Empty(explainer.Gradients.Live);
        new CamMethod().Compute(explainer, input, 0);
        new GradCamMethod().Compute(explainer, input, 0);
        new GradientMethod().Compute(explainer, input, 0);
        new GradientMethod().Compute(explainer, input, 1); // the same input shape: the same session
        var live = explainer.Gradients.Live;
        Assert.Equal(3, live.Count); // CAM's engine, Grad-CAM's source at its layer, the gradient's source at the input
        Assert.Equal(2, live.OfType<GradientSource>().Count());

        explainer.Dispose();

        Assert.Empty(explainer.Gradients.Live);
        Assert.All(live.OfType<GradientSource>(), s => Assert.True(s.IsDisposed));
        Assert.All(live.OfType<GradientEngine>(), e => Assert.True(e.IsDisposed));
        Assert.Throws<ObjectDisposedException>(() => new GradientMethod().Compute(explainer, input, 0));
        Assert.Throws<ObjectDisposedException>(() => new CamMethod().Compute(explainer, input, 0));
        Assert.Throws<ObjectDisposedException>(() => new FixationsMethod().Compute(explainer, input, 0));
        explainer.Dispose(); // twice is harmless
    }

    [Fact]
    public void A_disposed_fixation_explainer_disposes_its_engine()
    {
        var explainer = FixationExplainer.Load(new TinyFixture("resnet18", "resnet18.onnx").ModelPath);
        var engine = explainer.Engine;
        explainer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.Gradients.Engine());
        Assert.Throws<ObjectDisposedException>(() => engine.Forward(new CnnFixations.Onnx.TensorValue(new[] { 1, 3, 224, 224 }, new float[3 * 224 * 224])));
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float v) => 0;
    }
}
