using CnnFixations.Onnx.Proto;

namespace CnnFixations.Onnx;

/// <summary>
/// Computes constant tensors from initializers and Constant nodes through the ops exporters put
/// on weights (Identity, DequantizeLinear, Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Cast).
/// Any other constant subgraph is left to ONNX Runtime (the tensor is fetched as an extra output).
/// </summary>
internal sealed class ConstantFolder
{
    private readonly OnnxModel _model;
    private readonly Dictionary<string, ConstTensor?> _cache = new(StringComparer.Ordinal);

    public ConstantFolder(OnnxModel model) => _model = model;

    public void Store(string tensor, ConstTensor value)
    {
        lock (_cache) _cache[tensor] = value;
    }

    public ConstTensor? TryEvaluate(string tensor)
    {
        lock (_cache)
        {
            if (_cache.TryGetValue(tensor, out var cached)) return cached;
            var value = Evaluate(tensor);
            _cache[tensor] = value;
            return value;
        }
    }

    private ConstTensor? Evaluate(string tensor)
    {
        if (!_model.IsConstant(tensor)) return null;
        if (_model.IsInitializer(tensor)) return _model.ReadInitializer(tensor);
        var node = _model.Producer(tensor);
        if (node == null || !node.IsDefaultDomain) return null;
        ConstTensor? Input(int i) => node.InputOrNull(i) is { } name ? TryEvaluateUnlocked(name) : null;

        switch (node.OpType)
        {
            case "Constant": return FromConstantNode(node);
            case "Identity": return Input(0);
            case "DequantizeLinear":
            {
                var x = Input(0); var scale = Input(1);
                if (x == null || scale == null) return null;
                var zp = node.InputOrNull(2) != null ? Input(2) : null;
                if (node.InputOrNull(2) != null && zp == null) return null;
                return Dequantize(x, scale, zp, (int)node.Attributes.GetInt("axis", 1));
            }
            case "Transpose":
            {
                var x = Input(0);
                if (x == null) return null;
                int r = x.Shape.Length;
                var perm = node.Attributes.GetInts("perm") ?? Enumerable.Range(0, r).Reverse().Select(p => (long)p).ToArray();
                if (perm.Length != r || perm.Any(p => p < 0 || p >= r) || perm.Distinct().Count() != r)
                    throw new CnnFixationsException($"{node.Describe()}: perm [{string.Join(",", perm)}] is not a permutation of the {r} axes of {Shapes.Format(x.Shape)}");
                return Transpose(x, perm.Select(p => (int)p).ToArray());
            }
            case "Reshape":
            {
                var x = Input(0); var shape = Input(1);
                if (x == null || shape == null) return null;
                return x.WithShape(ResolveReshape(x.Shape, shape.ToInt64s(), node.Attributes.GetInt("allowzero", 0) != 0, node));
            }
            case "Flatten":
            {
                var x = Input(0);
                if (x == null) return null;
                long axis = node.Attributes.GetInt("axis", 1);
                int rank = x.Shape.Length;
                if (axis < -rank || axis > rank)
                    throw new CnnFixationsException($"{node.Describe()}: axis {axis} is outside [-{rank}, {rank}] for {Shapes.Format(x.Shape)}");
                if (axis < 0) axis += rank;
                int outer = 1, inner = 1;
                for (int i = 0; i < rank; i++) if (i < axis) outer *= x.Shape[i]; else inner *= x.Shape[i];
                return x.WithShape(new[] { outer, inner });
            }
            case "Squeeze":
            case "Unsqueeze":
            {
                var x = Input(0);
                if (x == null) return null;
                long[]? axes = node.Attributes.GetInts("axes");
                if (axes == null && node.InputOrNull(1) != null)
                {
                    var a = Input(1);
                    if (a == null) return null;
                    axes = a.ToInt64s();
                }
                return x.WithShape(node.OpType == "Squeeze" ? SqueezeShape(x.Shape, axes, node) : UnsqueezeShape(x.Shape, axes ?? Array.Empty<long>(), node));
            }
            case "Cast":
            {
                var x = Input(0);
                if (x == null) return null;
                return (TensorProto.Types.DataType)node.Attributes.GetInt("to", 0) switch
                {
                    TensorProto.Types.DataType.Float => new ConstTensor(x.Shape, x.ToFloats()),
                    TensorProto.Types.DataType.Int64 => new ConstTensor(x.Shape, x.ToInt64s()),
                    _ => null,
                };
            }
            default:
                return null;
        }
    }

    // Called with the lock held (recursion from Evaluate).
    private ConstTensor? TryEvaluateUnlocked(string tensor)
    {
        if (_cache.TryGetValue(tensor, out var cached)) return cached;
        var value = Evaluate(tensor);
        _cache[tensor] = value;
        return value;
    }

    private ConstTensor? FromConstantNode(GraphNode node)
    {
        var a = node.Attributes;
        if (a.GetTensor("value") is { } t) return TensorProtoReader.Read(t, _model.Directory);
        if (a.Has("value_float")) return new ConstTensor(Array.Empty<int>(), new[] { a.GetFloat("value_float", 0) });
        if (a.GetFloats("value_floats") is { } fs) return new ConstTensor(new[] { fs.Length }, fs);
        if (a.Has("value_int")) return new ConstTensor(Array.Empty<int>(), new[] { a.GetInt("value_int", 0) });
        if (a.GetInts("value_ints") is { } ls) return new ConstTensor(new[] { ls.Length }, ls);
        return null;
    }

    internal static ConstTensor Dequantize(ConstTensor x, ConstTensor scale, ConstTensor? zeroPoint, int axis)
    {
        int rank = x.Shape.Length;
        float[] s = scale.ToFloats();
        long[] zp = zeroPoint?.ToInt64s() ?? new long[s.Length];
        if (zp.Length != s.Length) throw new CnnFixationsException("DequantizeLinear: scale and zero point differ in length");
        var y = new float[x.Length];
        if (s.Length == 1)
        {
            for (int i = 0; i < y.Length; i++) y[i] = (float)(x.GetDouble(i) - zp[0]) * s[0];
            return new ConstTensor(x.Shape, y);
        }
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank || x.Shape[axis] != s.Length)
            throw new CnnFixationsException($"DequantizeLinear: per-axis scale of length {s.Length} does not fit axis {axis} of shape {Shapes.Format(x.Shape)}");
        int inner = 1;
        for (int i = axis + 1; i < rank; i++) inner *= x.Shape[i];
        int channels = x.Shape[axis];
        for (int i = 0; i < y.Length; i++)
        {
            int c = (i / inner) % channels;
            y[i] = (float)(x.GetDouble(i) - zp[c]) * s[c];
        }
        return new ConstTensor(x.Shape, y);
    }

    internal static ConstTensor Transpose(ConstTensor x, int[] perm)
    {
        int r = x.Shape.Length;
        if (perm.Length != r) throw new CnnFixationsException("Transpose: perm does not match the rank");
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var inStrides = Shapes.Strides(x.Shape);
        var result = Array.CreateInstance(x.Data.GetType().GetElementType()!, x.Length);
        Span<int> idx = stackalloc int[r];
        for (int o = 0; o < x.Length; o++)
        {
            Shapes.Unravel(o, outShape, idx);
            int src = 0;
            for (int d = 0; d < r; d++) src += idx[d] * inStrides[perm[d]];
            result.SetValue(x.Data.GetValue(src), o);
        }
        return new ConstTensor(outShape, result);
    }

    internal static int[] ResolveReshape(int[] inShape, long[] target, bool allowZero, GraphNode node)
    {
        long total = Shapes.ElementCount(inShape);
        var shape = new int[target.Length];
        int inferred = -1;
        long known = 1;
        string Target() => $"[{string.Join(",", target)}]";
        for (int i = 0; i < target.Length; i++)
        {
            long d = target[i];
            if (d == 0 && !allowZero)
                d = i < inShape.Length ? inShape[i] : throw new CnnFixationsException($"{node.Describe()}: cannot copy dimension {i} of {Shapes.Format(inShape)} (shape {Target()})");
            if (d == -1)
            {
                if (inferred >= 0) throw new CnnFixationsException($"{node.Describe()}: shape {Target()} has two -1 dimensions");
                inferred = i;
                continue;
            }
            if (d < 0 || d > int.MaxValue)
                throw new CnnFixationsException($"{node.Describe()}: shape {Target()} has an invalid dimension {d}");
            shape[i] = (int)d;
            known = d != 0 && known > long.MaxValue / d ? long.MaxValue : known * d; // saturates: such a shape fits nothing
        }
        if (inferred >= 0)
        {
            if (known == 0 || total % known != 0 || total / known > int.MaxValue)
                throw new CnnFixationsException($"{node.Describe()}: cannot reshape {Shapes.Format(inShape)} to {Target()}");
            shape[inferred] = (int)(total / known);
        }
        if (Shapes.ElementCount(shape) != total)
            throw new CnnFixationsException($"{node.Describe()}: cannot reshape {Shapes.Format(inShape)} to {Target()}");
        return shape;
    }

    internal static int[] SqueezeShape(int[] shape, long[]? axes, GraphNode node)
    {
        if (axes == null || axes.Length == 0) return shape.Where(d => d != 1).ToArray();
        var drop = NormalizeAxes(axes, shape.Length, node);
        if (drop.Any(a => shape[a] != 1))
            throw new CnnFixationsException($"{node.Describe()}: cannot squeeze axes [{string.Join(",", axes)}] of {Shapes.Format(shape)}: each must have size 1");
        return shape.Where((_, i) => !drop.Contains(i)).ToArray();
    }

    internal static int[] UnsqueezeShape(int[] shape, long[] axes, GraphNode node)
    {
        int rank = shape.Length + axes.Length;
        var insert = NormalizeAxes(axes, rank, node);
        var result = new int[rank];
        int j = 0;
        for (int i = 0; i < rank; i++) result[i] = insert.Contains(i) ? 1 : shape[j++];
        return result;
    }

    /// <summary>Axes in [-rank, rank) made non-negative; out of range or repeated axes are an error.</summary>
    private static HashSet<int> NormalizeAxes(long[] axes, int rank, GraphNode node)
    {
        var set = new HashSet<int>();
        foreach (long a in axes)
        {
            if (a < -rank || a >= rank || !set.Add((int)(a < 0 ? a + rank : a)))
                throw new CnnFixationsException($"{node.Describe()}: axes [{string.Join(",", axes)}] are out of range or repeated for rank {rank}");
        }
        return set;
    }
}
