using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Baselines;

/// <summary>Maps a map defined on a grid over the network input (a feature map, or the input itself) onto the original image.</summary>
internal static class SaliencyUpsampler
{
    /// <summary>
    /// Bilinear sampling (pixel centres aligned, edges clamped) of a gridH x gridW map that covers the
    /// network input, at every original-image pixel that the input shows; pixels outside the input's
    /// region get 0. Normalized to a maximum of 1 (negative values clamped to 0 first).
    /// </summary>
    public static float[] ToImage(float[] grid, int gridH, int gridW, ExplanationInput input)
    {
        int w = input.Width, h = input.Height;
        int inH = input.Tensor.Shape[2], inW = input.Tensor.Shape[3];
        var g = input.Geometry;
        var r = g.Region;
        var heat = new float[(long)w * h];
        // Each column's grid neighbours and weight are computed once (the same arithmetic as per pixel):
        // x0[x] < 0 marks a column outside the input's region.
        var x0 = new int[w];
        var x1 = new int[w];
        var tx = new double[w];
        for (int x = 0; x < w; x++)
        {
            double rx = (x + 0.5) * g.ResizedWidth / g.ImageWidth - r.X;
            if (rx < 0 || rx >= r.Width) { x0[x] = -1; continue; }
            double ix = rx * inW / r.Width;
            if (r.Mirrored) ix = inW - ix;
            double fx = Math.Clamp(ix * gridW / inW - 0.5, 0, gridW - 1);
            x0[x] = (int)Math.Floor(fx);
            x1[x] = Math.Min(x0[x] + 1, gridW - 1);
            tx[x] = fx - x0[x];
        }
        for (int y = 0; y < h; y++)
        {
            // original pixel centre -> resized image -> region -> network input coordinates
            double ry = (y + 0.5) * g.ResizedHeight / g.ImageHeight - r.Y;
            if (ry < 0 || ry >= r.Height) continue;
            double iy = ry * inH / r.Height;            // continuous input coordinate (pixel units)
            double fy = Math.Clamp(iy * gridH / inH - 0.5, 0, gridH - 1); // grid coordinate
            int y0 = (int)Math.Floor(fy), y1 = Math.Min(y0 + 1, gridH - 1);
            double ty = fy - y0;
            var row = heat.AsSpan(y * w, w);
            for (int x = 0; x < w; x++)
            {
                if (x0[x] < 0) continue;
                double top = grid[y0 * gridW + x0[x]] * (1 - tx[x]) + grid[y0 * gridW + x1[x]] * tx[x];
                double bottom = grid[y1 * gridW + x0[x]] * (1 - tx[x]) + grid[y1 * gridW + x1[x]] * tx[x];
                row[x] = (float)(top * (1 - ty) + bottom * ty);
            }
        }
        Normalize(heat);
        return heat;
    }

    public static void Normalize(float[] heat)
    {
        float max = 0;
        for (int i = 0; i < heat.Length; i++)
        {
            if (!(heat[i] > 0)) heat[i] = 0; // negatives and NaN
            if (heat[i] > max) max = heat[i];
        }
        if (max > 0) for (int i = 0; i < heat.Length; i++) heat[i] /= max;
    }
}

/// <summary>
/// The gradient sessions of one <see cref="Explainer"/>, created on first use and disposed with it: one
/// <see cref="GradientEngine"/> (a session fetching every activation) per tensor it differentiates down to,
/// one <see cref="GradientSource"/> (the backward graph in ONNX Runtime, or the engine) per tensor and input shape.
/// </summary>
internal sealed class GradientSessions : IDisposable
{
    private readonly Explainer _explainer;
    private readonly Dictionary<string, GradientEngine> _engines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GradientSource> _sources = new(StringComparer.Ordinal);
    private bool _disposed;

    public GradientSessions(Explainer explainer) => _explainer = explainer;

    /// <param name="from">The tensor the gradient is needed down to (null: the network input).</param>
    public GradientEngine Engine(string? from = null)
    {
        lock (_engines)
        {
            ObjectDisposedException.ThrowIf(_disposed, _explainer);
            string key = from ?? "";
            if (!_engines.TryGetValue(key, out var engine))
                _engines[key] = engine = new GradientEngine(_explainer.Model, _explainer.LogitsTensor, from: from);
            return engine;
        }
    }

    /// <param name="inputShape">The input's shape (the backward graph is built for one).</param>
    /// <param name="from">The tensor the gradient is needed at (null: the network input).</param>
    public GradientSource Source(int[] inputShape, string? from = null)
    {
        lock (_engines)
        {
            ObjectDisposedException.ThrowIf(_disposed, _explainer);
            string key = (from ?? "") + "\n" + Shapes.Format(inputShape);
            if (!_sources.TryGetValue(key, out var source))
                _sources[key] = source = new GradientSource(_explainer.Model, _explainer.LogitsTensor, inputShape, from);
            return source;
        }
    }

    /// <summary>The engines and sources created so far and not yet disposed.</summary>
    public IReadOnlyList<IDisposable> Live
    {
        get { lock (_engines) return _engines.Values.Cast<IDisposable>().Concat(_sources.Values).ToList(); }
    }

    /// <summary>Disposes every engine and source; later requests throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        List<IDisposable> owned;
        lock (_engines)
        {
            if (_disposed) return;
            _disposed = true;
            owned = _engines.Values.Cast<IDisposable>().Concat(_sources.Values).ToList();
            _engines.Clear();
            _sources.Clear();
        }
        foreach (var o in owned) o.Dispose();
    }
}

/// <summary>Where a classifier reads its classes from, for CAM and Grad-CAM.</summary>
internal static class ClassifierStructure
{
    private static readonly HashSet<string> Transparent = new(PassThroughRule().Append("Flatten").Append("Reshape").Append("Squeeze").Append("Unsqueeze"), StringComparer.Ordinal);

    private static IEnumerable<string> PassThroughRule() => CnnFixations.Unravel.Rules.PassThroughRule.Ops;

    /// <summary>The ops the classifier search looks through (element-wise and reshaping ops).</summary>
    internal static IReadOnlyCollection<string> TransparentOps => Transparent;

    /// <summary>The global pooling ops CAM expects before the classifier (or over class maps).</summary>
    internal static readonly IReadOnlyList<string> CamPoolOps = new[] { "GlobalAveragePool", "ReduceMean" };

    /// <summary>The linear classifiers CAM reads its class weights from (Conv: 1x1 on the pooled map).</summary>
    internal static readonly IReadOnlyList<string> CamLinearOps = new[] { "Gemm", "MatMul", "Conv" };

    /// <summary>Follows data input 0 back through element-wise and reshaping ops.</summary>
    public static string Skip(OnnxModel model, string tensor)
    {
        while (model.Producer(tensor) is { } p && p.IsDefaultDomain && Transparent.Contains(p.OpType) && p.InputOrNull(0) is { } next && !model.IsConstant(next))
            tensor = next;
        return tensor;
    }

    /// <summary>The last tensor with spatial extent (H*W &gt; 1) on the way back from the logits along data inputs.</summary>
    public static string? LastSpatialTensor(OnnxModel model, string logits, Func<string, int[]?> shape)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        queue.Enqueue(logits);
        while (queue.Count > 0)
        {
            var t = queue.Dequeue();
            if (!seen.Add(t)) continue;
            if (shape(t) is { Length: 4 } s && s[0] == 1 && (long)s[2] * s[3] > 1) return t;
            var p = model.Producer(t);
            if (p == null) continue;
            foreach (var input in p.Inputs)
                if (input.Length > 0 && !model.IsConstant(input)) queue.Enqueue(input);
        }
        return null;
    }
}

/// <summary>
/// Grad-CAM: at a spatial tensor A (default: the last one before the pooling/flatten), channel weights
/// alpha_k = spatial mean of d logit / d A_k, map = ReLU(sum_k alpha_k A_k), upsampled bilinearly to the image.
/// </summary>
public sealed class GradCamMethod : ISaliencyMethod
{
    private readonly string? _layer;

    public GradCamMethod(string? layer = null) => _layer = layer;

    public string Name => "gradcam";

    public string? NotApplicable(Explainer explainer) =>
        Layer(explainer) == null ? "the model has no spatial tensor before its classifier" : null;

    private string? Layer(Explainer explainer) =>
        _layer ?? ClassifierStructure.LastSpatialTensor(explainer.Model, explainer.LogitsTensor, explainer.TensorShape);

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target)
    {
        string layer = Layer(explainer) ?? throw new CnnFixationsException(NotApplicable(explainer)!);
        using var result = explainer.Gradients.Source(input.Tensor.Shape, layer).Compute(input.Tensor, target);
        var a = result.Activation ?? (layer == explainer.Model.InputName ? input.Tensor : null) ?? throw new CnnFixationsException($"Grad-CAM layer '{layer}' is not an activation of the model");
        int channels = a.Shape[1], h = a.Shape[2], w = a.Shape[3], plane = h * w;
        var cam = new float[plane];
        if (result.Gradient?.Data is { } g)
            for (int k = 0; k < channels; k++)
            {
                double alpha = 0;
                for (int i = 0; i < plane; i++) alpha += g[k * plane + i];
                alpha /= plane;
                if (alpha == 0) continue;
                for (int i = 0; i < plane; i++) cam[i] += (float)(alpha * a.Data[k * plane + i]);
            }
        for (int i = 0; i < plane; i++) cam[i] = Math.Max(cam[i], 0f);
        return new SaliencyMap(SaliencyUpsampler.ToImage(cam, h, w, input), input.Width, input.Height);
    }
}

/// <summary>Vanilla gradient saliency: |d logit / d input|, the maximum over channels, at every input pixel.</summary>
public sealed class GradientMethod : ISaliencyMethod
{
    public string Name => "gradient";

    public string? NotApplicable(Explainer explainer) => null;

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target)
    {
        using var result = explainer.Gradients.Source(input.Tensor.Shape).Compute(input.Tensor, target);
        int c = input.Tensor.Shape[1], h = input.Tensor.Shape[2], w = input.Tensor.Shape[3], plane = h * w;
        var map = new float[plane];
        if (result.Gradient?.Data is { } g)
            for (int i = 0; i < plane; i++)
            {
                float m = 0;
                for (int k = 0; k < c; k++) m = Math.Max(m, Math.Abs(g[k * plane + i]));
                map[i] = m;
            }
        return new SaliencyMap(SaliencyUpsampler.ToImage(map, h, w, input), input.Width, input.Height);
    }
}

/// <summary>
/// CAM, for classifiers that end in global average pooling followed by a linear layer (Gemm/MatMul, or a
/// 1x1 Conv on the pooled map) or that pool a class map (a 1x1 Conv to the classes, then global pooling):
/// the class-weighted sum of the last spatial feature maps.
/// </summary>
public sealed class CamMethod : ISaliencyMethod
{
    public string Name => "cam";

    private sealed record Structure(string FeatureMap, Func<OnnxModel, int, int, float[]>? Weights);

    private static Structure? Find(Explainer explainer)
    {
        var model = explainer.Model;
        string t = ClassifierStructure.Skip(model, explainer.LogitsTensor);
        var p = model.Producer(t);
        if (p == null || !p.IsDefaultDomain) return null;
        if (ClassifierStructure.CamPoolOps.Contains(p.OpType))
            return new Structure(p.Inputs[0], null); // class maps pooled directly: CAM is the class's own map
        bool linear = p.OpType is "Gemm" or "MatMul" || p.OpType == "Conv" && model.TryGetConstant(p.Inputs[1]) is { Shape: [_, _, 1, 1] };
        if (!linear || model.IsConstant(p.Inputs[0]) || model.TryGetConstant(p.Inputs[1]) is not { } weight) return null;
        if (p.OpType == "Gemm" && p.Attributes.GetInt("transA", 0) != 0) return null;
        string pooled = ClassifierStructure.Skip(model, p.Inputs[0]);
        var pool = model.Producer(pooled);
        if (pool == null || !ClassifierStructure.CamPoolOps.Contains(pool.OpType)) return null;
        bool transB = p.OpType == "Gemm" && p.Attributes.GetInt("transB", 0) != 0 || p.OpType == "Conv";
        var w = weight.ToFloats();
        int rows = weight.Shape[0], cols = weight.Shape[1];
        return new Structure(pool.Inputs[0], (m, k, channels) =>
        {
            var result = new float[channels];
            for (int c = 0; c < channels; c++) result[c] = transB ? w[k * cols + c] : w[c * cols + k];
            return result;
        });
    }

    public string? NotApplicable(Explainer explainer) =>
        Find(explainer) == null ? "CAM needs a classifier that ends in global average pooling and a linear layer" : null;

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target)
    {
        var s = Find(explainer) ?? throw new CnnFixationsException(NotApplicable(explainer)!);
        var forward = explainer.Gradients.Engine(s.FeatureMap).Forward(input.Tensor);
        var f = forward[s.FeatureMap];
        int channels = f.Shape[1], h = f.Shape[2], w = f.Shape[3], plane = h * w;
        var cam = new float[plane];
        if (s.Weights == null) f.Data.AsSpan(target * plane, plane).CopyTo(cam);
        else
        {
            var weights = s.Weights(explainer.Model, target, channels);
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < plane; i++) cam[i] += weights[c] * f.Data[c * plane + i];
        }
        // CAM maps are signed: shift to a minimum of 0 so the strongest region is 1.
        float min = cam.Min();
        for (int i = 0; i < plane; i++) cam[i] -= min;
        return new SaliencyMap(SaliencyUpsampler.ToImage(cam, h, w, input), input.Width, input.Height);
    }
}
