using System.Runtime.InteropServices;
using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Evaluation;

/// <summary>
/// A weighted layer the randomization check can rewrite: a Conv, Gemm or MatMul whose weight is an initializer,
/// directly or through DequantizeLinear (then <see cref="Scale"/> is set) and reshaping ops.
/// </summary>
public sealed record WeightedLayer(string Node, string OpType, string Initializer, string? Scale, string? ZeroPoint, int Axis);

/// <summary>
/// The cascading model-randomization check of Adebayo et al. (NeurIPS 2018): the weights of the top
/// d weighted layers (the classifier first) are replaced by seeded Gaussian values with the original
/// standard deviation; biases, BatchNormalization and everything else are kept.
/// </summary>
public static class WeightRandomization
{
    private static readonly HashSet<string> WeightPath = new(StringComparer.Ordinal)
    {
        "Identity", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast",
    };

    /// <summary>The randomizable layers, in topological order (the last is the classifier). Each initializer appears once.</summary>
    public static IReadOnlyList<WeightedLayer> Layers(OnnxModel model)
    {
        var result = new List<WeightedLayer>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in model.Nodes)
        {
            if (!node.IsDefaultDomain || node.OpType is not ("Conv" or "Gemm" or "MatMul") || node.Inputs.Count < 2) continue;
            string? weight = node.OpType == "MatMul" && !model.IsConstant(node.Inputs[1]) && model.IsConstant(node.Inputs[0]) ? node.Inputs[0]
                : model.IsConstant(node.Inputs[1]) ? node.Inputs[1] : null;
            if (weight == null || Trace(model, weight) is not { } layer || !seen.Add(layer.Initializer)) continue;
            result.Add(layer with { Node = node.Name.Length > 0 ? node.Name : $"{node.OpType} #{node.Index}", OpType = node.OpType });
        }
        return result;
    }

    private static WeightedLayer? Trace(OnnxModel model, string tensor)
    {
        for (int guard = 0; guard < 64; guard++)
        {
            if (model.IsInitializer(tensor)) return IsFloat(model, tensor) ? new WeightedLayer("", "", tensor, null, null, 1) : null;
            var p = model.Producer(tensor);
            if (p == null || !p.IsDefaultDomain) return null;
            if (p.OpType == "DequantizeLinear")
            {
                string x = p.Inputs[0];
                if (!model.IsInitializer(x) || model.Initializer(x).DataType is not ((int)TensorProto.Types.DataType.Int8 or (int)TensorProto.Types.DataType.Uint8)) return null;
                return new WeightedLayer("", "", x, p.Inputs[1], p.InputOrNull(2), (int)p.Attributes.GetInt("axis", 1));
            }
            if (!WeightPath.Contains(p.OpType)) return null;
            tensor = p.Inputs[0];
        }
        return null;
    }

    private static bool IsFloat(OnnxModel model, string initializer) => model.Initializer(initializer).DataType == (int)TensorProto.Types.DataType.Float;

    /// <summary>The randomization depths for <paramref name="layers"/> weighted layers: 1, 2, 4, 8, ... and finally all of them.</summary>
    public static IReadOnlyList<int> DefaultDepths(int layers)
    {
        var depths = new List<int>();
        for (int d = 1; d < layers; d *= 2) depths.Add(d);
        if (layers > 0) depths.Add(layers);
        return depths;
    }

    /// <summary>
    /// A copy of the model (read from new bytes) with the top <paramref name="depth"/> layers of <paramref name="layers"/>
    /// randomized. Layer i from the top uses seed <paramref name="seed"/> + i, so a deeper cascade keeps the random
    /// values of the layers above. Float weights: N(0, σ²), σ the standard deviation of the tensor's values.
    /// Quantized weights (int8/uint8 behind DequantizeLinear): per quantization channel (the whole tensor for a
    /// per-tensor scale), q = clamp(round(z + σ_q·N(0, 1))) with σ_q the standard deviation of q - z in that
    /// channel, so the dequantized weights have the channel's original standard deviation.
    /// </summary>
    public static OnnxModel Randomize(OnnxModel model, IReadOnlyList<WeightedLayer> layers, int depth, long seed)
    {
        if (depth < 0 || depth > layers.Count) throw new ArgumentOutOfRangeException(nameof(depth));
        var replacements = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        for (int i = 0; i < depth; i++)
        {
            var layer = layers[layers.Count - 1 - i];
            replacements[layer.Initializer] = RandomTensor(model, layer, new SeededRandom(seed + i));
        }
        return model.WithInitializers(replacements);
    }

    private static TensorProto RandomTensor(OnnxModel model, WeightedLayer layer, SeededRandom random)
    {
        var original = model.Initializer(layer.Initializer);
        var values = model.ReadInitializer(layer.Initializer);
        var proto = new TensorProto { Name = original.Name, DataType = original.DataType };
        proto.Dims.AddRange(original.Dims);
        if (layer.Scale == null)
        {
            var w = values.ToFloats();
            double sd = StandardDeviation(w, 0, w.Length, 1, 0);
            var r = new float[w.Length];
            for (int i = 0; i < r.Length; i++) r[i] = (float)(sd * random.NextGaussian());
            proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(r.AsSpan()));
            return proto;
        }
        var q = values.ToFloats();
        int channelsOfScale = Shapes.ElementCount(model.ConstantShape(layer.Scale) ?? Array.Empty<int>()) is var n and > 1 ? (int)n : 1;
        long[] zero = layer.ZeroPoint != null ? model.TryGetConstant(layer.ZeroPoint)?.ToInt64s() ?? throw new CnnFixationsException($"randomization: zero point '{layer.ZeroPoint}' is not a constant") : new long[channelsOfScale];
        int rank = values.Shape.Length;
        int axis = layer.Axis < 0 ? layer.Axis + rank : layer.Axis;
        int channels = 1, inner = q.Length;
        if (channelsOfScale > 1)
        {
            if (axis < 0 || axis >= rank || values.Shape[axis] != channelsOfScale)
                throw new CnnFixationsException($"randomization: the per-axis scale of '{layer.Initializer}' does not fit axis {layer.Axis} of {Shapes.Format(values.Shape)}");
            channels = channelsOfScale;
            inner = 1;
            for (int d = axis + 1; d < rank; d++) inner *= values.Shape[d];
        }
        bool signed = original.DataType == (int)TensorProto.Types.DataType.Int8;
        int min = signed ? sbyte.MinValue : byte.MinValue, max = signed ? sbyte.MaxValue : byte.MaxValue;
        var sds = new double[channels];
        for (int c = 0; c < channels; c++) sds[c] = StandardDeviation(q, c, q.Length, channels == 1 ? 1 : inner, channels == 1 ? 0 : channels);
        var bytes = new byte[q.Length];
        for (int i = 0; i < q.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            double z = zero.Length == 1 ? zero[0] : zero[c];
            int v = (int)Math.Clamp(Math.Round(z + sds[c] * random.NextGaussian(), MidpointRounding.AwayFromZero), min, max);
            bytes[i] = signed ? unchecked((byte)(sbyte)v) : (byte)v;
        }
        proto.RawData = ByteString.CopyFrom(bytes);
        return proto;
    }

    /// <summary>
    /// Standard deviation (population) of the values of channel <paramref name="channel"/>: with channels = 0 every value,
    /// else the values whose index i has (i / inner) % channels == channel.
    /// </summary>
    private static double StandardDeviation(float[] v, int channel, int length, int inner, int channels)
    {
        double sum = 0, sq = 0;
        long n = 0;
        for (int i = 0; i < length; i++)
        {
            if (channels > 0 && i / inner % channels != channel) continue;
            sum += v[i]; sq += (double)v[i] * v[i]; n++;
        }
        if (n == 0) return 0;
        double mean = sum / n;
        return Math.Sqrt(Math.Max(0, sq / n - mean * mean));
    }
}
