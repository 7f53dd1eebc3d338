namespace CnnFixations.Onnx;

/// <summary>
/// Static shapes of the graph's tensors for a fixed input shape, for the ops CNNs use. A tensor
/// whose shape cannot be derived here (an op not modelled, a shape computed from runtime values)
/// is simply absent; callers fetch such tensors from the forward pass instead.
/// </summary>
public static class ShapeInference
{
    public static Dictionary<string, int[]> Infer(OnnxModel model, int[] inputShape)
    {
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal) { [model.InputName] = inputShape };
        int[]? Shape(string name)
        {
            if (name.Length == 0) return null;
            if (shapes.TryGetValue(name, out var s)) return s;
            if (model.IsConstant(name) && model.ConstantShape(name) is { } c) return shapes[name] = c;
            return null;
        }
        foreach (var node in model.Nodes)
        {
            if (!node.IsDefaultDomain || node.Outputs.Count == 0) continue;
            int[]? result;
            try { result = InferNode(model, node, Shape); }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or CnnFixationsException or InvalidCastException)
            {
                result = null;
            }
            if (result != null && result.All(d => d >= 0)) shapes[node.Outputs[0]] = result;
        }
        return shapes;
    }

    private static readonly HashSet<string> SameShapeOps = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu", "Softplus",
        "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Dropout", "Identity", "LRN", "BatchNormalization", "Softmax", "LogSoftmax",
        "Cast", "QuantizeLinear", "DequantizeLinear", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Floor", "Ceil",
        "InstanceNormalization", "LayerNormalization", "ImageScaler",
    };

    private static readonly HashSet<string> BroadcastOps = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where",
    };

    /// <summary>The shape rule of an op: its first output's shape from its inputs' (null when unknown).</summary>
    private delegate int[]? ShapeRule(OnnxModel model, GraphNode node, Func<string, int[]?> shape);

    /// <summary>The ops whose output shape is inferred here.</summary>
    internal static IReadOnlyCollection<string> OpTypes => Rules.Keys;

    private static readonly Dictionary<string, ShapeRule> Rules = CreateRules();

    private static int[]? X(GraphNode node, Func<string, int[]?> shape) => node.InputOrNull(0) is { } i ? shape(i) : null;

    private static int[]? InferNode(OnnxModel model, GraphNode node, Func<string, int[]?> shape) =>
        Rules.TryGetValue(node.OpType, out var rule) ? rule(model, node, shape) : null;

    private static int[]? BroadcastShape(OnnxModel model, GraphNode node, Func<string, int[]?> shape)
    {
        int[]? result = null;
        foreach (var input in node.Inputs.Where(i => i.Length > 0))
        {
            var s = shape(input);
            if (s == null) return null;
            result = result == null ? s : Broadcast(result, s);
            if (result == null) return null;
        }
        return result;
    }

    private static Dictionary<string, ShapeRule> CreateRules()
    {
        var rules = new Dictionary<string, ShapeRule>(StringComparer.Ordinal);
        void Add(ShapeRule rule, params string[] ops) { foreach (var op in ops) rules.Add(op, rule); }
        foreach (var op in SameShapeOps) Add((model, node, shape) => X(node, shape), op);
        foreach (var op in BroadcastOps) Add(BroadcastShape, op);
        Add((model, node, shape) =>
        {
            var x = X(node, shape); var w = node.InputOrNull(1) is { } wn ? shape(wn) : null;
            if (x == null || w == null || x.Length != 4 || w.Length != 4) return null;
            return [x[0], w[0], .. Window(node, x, w[2], w[3], ceil: false)];
        }, "Conv");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            var k = node.Attributes.GetInts("kernel_shape");
            if (x == null || x.Length != 4 || k == null || k.Length != 2) return null;
            return [x[0], x[1], .. Window(node, x, (int)k[0], (int)k[1], node.Attributes.GetInt("ceil_mode", 0) != 0)];
        }, "MaxPool", "AveragePool", "LpPool");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null || x.Length < 3) return null;
            return x.Select((d, i) => i < 2 ? d : 1).ToArray();
        }, "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null) return null;
            long[]? axes = node.Attributes.GetInts("axes");
            if (axes == null && node.InputOrNull(1) is { } an) axes = model.TryGetConstant(an)?.ToInt64s();
            if (axes == null || axes.Length == 0) return null;
            bool keep = node.Attributes.GetInt("keepdims", 1) != 0;
            var set = axes.Select(v => (int)(v < 0 ? v + x.Length : v)).ToHashSet();
            return keep ? x.Select((d, i) => set.Contains(i) ? 1 : d).ToArray() : x.Where((_, i) => !set.Contains(i)).ToArray();
        }, "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum");
        Add((model, node, shape) =>
        {
            var x = X(node, shape); var b = node.InputOrNull(1) is { } bn ? shape(bn) : null;
            if (x == null || b == null || x.Length != 2 || b.Length != 2) return null;
            int m = node.Attributes.GetInt("transA", 0) != 0 ? x[1] : x[0];
            int n = node.Attributes.GetInt("transB", 0) != 0 ? b[0] : b[1];
            return new[] { m, n };
        }, "Gemm");
        Add((model, node, shape) =>
        {
            var x = X(node, shape); var y = node.InputOrNull(1) is { } yn ? shape(yn) : null;
            if (x == null || y == null || x.Length < 2 || y.Length < 2) return null;
            var batch = Broadcast(x[..^2], y[..^2]);
            return batch == null ? null : [.. batch, x[^2], y[^1]];
        }, "MatMul");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null) return null;
            int axis = (int)node.Attributes.GetInt("axis", 1);
            if (axis < 0) axis += x.Length;
            return new[] { x.Take(axis).Aggregate(1, (p, d) => p * d), x.Skip(axis).Aggregate(1, (p, d) => p * d) };
        }, "Flatten");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null || node.InputOrNull(1) is not { } sn || model.TryGetConstant(sn) is not { } target) return null;
            return ConstantFolder.ResolveReshape(x, target.ToInt64s(), node.Attributes.GetInt("allowzero", 0) != 0, node);
        }, "Reshape");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null) return null;
            long[]? axes = node.Attributes.GetInts("axes");
            if (axes == null && node.InputOrNull(1) is { } an) axes = model.TryGetConstant(an)?.ToInt64s() ?? throw new ArgumentException("axes");
            return node.OpType == "Squeeze" ? ConstantFolder.SqueezeShape(x, axes, node) : ConstantFolder.UnsqueezeShape(x, axes ?? Array.Empty<long>(), node);
        }, "Squeeze", "Unsqueeze");
        Add((model, node, shape) =>
        {
            var inputs = node.Inputs.Where(i => i.Length > 0).Select(shape).ToList();
            if (inputs.Count == 0 || inputs.Any(s => s == null)) return null;
            int rank = inputs[0]!.Length;
            long axis = node.Attributes.GetInt("axis", 1);
            if (axis < 0) axis += rank;
            var result = (int[])inputs[0]!.Clone();
            result[axis] = inputs.Sum(s => s![axis]);
            return result;
        }, "Concat");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null) return null;
            long[]? pads = node.Attributes.GetInts("pads");
            if (pads == null && node.InputOrNull(1) is { } pn) pads = model.TryGetConstant(pn)?.ToInt64s();
            if (pads == null || pads.Length != 2 * x.Length || node.InputOrNull(3) != null) return null;
            return x.Select((d, i) => (int)(d + pads[i] + pads[i + x.Length])).ToArray();
        }, "Pad");
        Add((model, node, shape) =>
        {
            var x = X(node, shape);
            if (x == null) return null;
            var perm = node.Attributes.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Length).Reverse().ToArray();
            return perm.Select(p => x[p]).ToArray();
        }, "Transpose");
        Add((model, node, shape) => model.TryGetConstant(node.Outputs[0])?.Shape, "Constant");
        Add((model, node, shape) => X(node, shape) is { } xs ? new[] { xs.Length } : null, "Shape");
        return rules;
    }

    /// <summary>Output spatial size of a 2-D window op (Conv, pooling), as ONNX defines it.</summary>
    private static int[] Window(GraphNode node, int[] x, int kh, int kw, bool ceil)
    {
        var a = node.Attributes;
        var strides = a.GetInts("strides") ?? new long[] { 1, 1 };
        var dilations = a.GetInts("dilations") ?? new long[] { 1, 1 };
        string autoPad = a.GetString("auto_pad", "NOTSET");
        var result = new int[2];
        int[] k = { kh, kw };
        var pads = a.GetInts("pads") ?? new long[4];
        for (int i = 0; i < 2; i++)
        {
            int input = x[2 + i];
            long s = strides[i], d = dilations[i];
            long extent = (k[i] - 1) * d + 1;
            long size = autoPad switch
            {
                "SAME_UPPER" or "SAME_LOWER" => (input + s - 1) / s,
                "VALID" => (input - extent) / s + 1,
                _ => Size(input + pads[i] + pads[i + 2], extent, s, ceil, input + pads[i]),
            };
            result[i] = checked((int)size);
        }
        return result;
    }

    private static long Size(long padded, long extent, long stride, bool ceil, long lastStartLimit)
    {
        long span = padded - extent;
        if (span < 0) return 0;
        long size = ceil ? (span + stride - 1) / stride + 1 : span / stride + 1;
        // With ceil_mode the last window must start inside the input or its leading padding.
        if (ceil && (size - 1) * stride >= lastStartLimit) size--;
        return size;
    }

    private static int[]? Broadcast(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1) return null;
            result[i] = da == 1 ? db : da;
        }
        return result;
    }
}
