using CnnFixations.Baselines;
using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>The result of a weighted walk: the weight that reached every neuron of the network input.</summary>
public sealed class WeightedResult
{
    internal WeightedResult(float[] input, int[] inputShape, IReadOnlyList<string> headTensors, double headMass)
    {
        Input = input;
        InputShape = inputShape;
        HeadTensors = headTensors;
        HeadMass = headMass;
    }

    /// <summary>Weight of every input neuron, row-major over <see cref="InputShape"/>; sums to about 1 (what padding absorbs is lost).</summary>
    public float[] Input { get; }
    public int[] InputShape { get; }

    /// <summary>The tensors where the linear head ended and the weights were first formed (see <see cref="WeightedWalk"/>).</summary>
    public IReadOnlyList<string> HeadTensors { get; }

    /// <summary>The total positive contribution found at the head tensors before normalization (0: nothing supports the target).</summary>
    public double HeadMass { get; }
}

/// <summary>
/// The weighted walk (<c>--rules weighted</c>, the default; docs/cnn-fixations.md, "Weighted rules").
/// <list type="number">
/// <item>Head: from the target logit down through the ops that are linear in their data input (Gemm,
/// MatMul, Conv, pooling by averaging, reshapes, Q/DQ, constant affine ops) the target's coefficient on
/// every neuron is carried exactly; contrastive by default (the target's logit minus the mean of the
/// other classes' logits). Where the first non-linear op is met the contributions coefficient x activation
/// are formed; on a spatial tensor they are summed per position, and a position keeps weight
/// <c>max(0, sum)</c>, shared among its channels in proportion to their positive contributions.</item>
/// <item>Below: every rule shares each neuron's weight among its inputs in proportion to their positive
/// contributions (activation x weight), mixed with an even share over the window (<see cref="UnravelOptions.FlatShare"/>).</item>
/// </list>
/// The weights are accumulated in a fixed order, so the result is the same on every run and thread count.
/// </summary>
public sealed class WeightedWalk
{
    private readonly UnravelPlan _plan;
    private readonly RuleSet _rules;
    private readonly IReadOnlyDictionary<string, TensorValue> _activations;
    private readonly IReadOnlyDictionary<string, int[]>? _shapes;
    private readonly Dictionary<string, float[]> _weights = new(StringComparer.Ordinal);

    public WeightedWalk(OnnxModel model, UnravelPlan plan, RuleSet rules, UnravelOptions options, IReadOnlyDictionary<string, TensorValue> activations,
        IReadOnlyDictionary<string, int[]>? shapes = null)
    {
        Model = model;
        _plan = plan;
        _rules = rules;
        Options = options;
        _activations = activations;
        _shapes = shapes;
    }

    public OnnxModel Model { get; }
    public UnravelOptions Options { get; }
    public int Threads { get; init; }

    /// <summary>Ops that are linear in their data inputs (bias and offsets ignored), walked exactly by the head.</summary>
    internal static readonly HashSet<string> LinearOps = new(StringComparer.Ordinal)
    {
        "Gemm", "MatMul", "Conv", "GlobalAveragePool", "ReduceMean", "AveragePool", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
        "Identity", "Dropout", "Cast", "QuantizeLinear", "DequantizeLinear", "BatchNormalization", "Concat", "Pad", "Transpose",
        "Add", "Sub", "Mul", "Div",
    };

    /// <summary>Walks from class <paramref name="target"/> of the logits tensor <paramref name="logits"/> (the plan's start).</summary>
    public WeightedResult RunFromClass(string logits, int target)
    {
        var value = Activation(logits, null);
        int n = value.Length;
        var seed = new float[n];
        if (Options.Contrastive && n > 1)
        {
            float others = -1f / (n - 1);
            Array.Fill(seed, others);
        }
        seed[target] = 1;
        var heads = Head(logits, seed);
        return Run(heads);
    }

    /// <summary>Walks from given weights on the plan's start tensor (e.g. a channel of an inner tensor).</summary>
    public WeightedResult RunFromWeights(float[] start)
    {
        var heads = new Dictionary<string, float[]>(StringComparer.Ordinal) { [_plan.StartTensor] = start };
        double total = 0;
        foreach (float v in start) total += v;
        return Run((heads, new[] { _plan.StartTensor }, total));
    }

    /// <summary>
    /// The linear head: the coefficient of the start on each tensor reached through linear ops, then the
    /// contributions at the first tensors that a non-linear op produced (or the network input).
    /// </summary>
    private (Dictionary<string, float[]> Weights, string[] Heads, double Mass) Head(string logits, float[] seed)
    {
        var coefficients = new Dictionary<string, float[]>(StringComparer.Ordinal) { [logits] = seed };
        var frontier = new List<string>();
        foreach (var node in _plan.Nodes)
        {
            string output = node.Outputs[0];
            if (!coefficients.TryGetValue(output, out var dy)) continue;
            bool linear = node.IsDefaultDomain && LinearOps.Contains(node.OpType) && IsLinearHere(node);
            if (!linear)
            {
                frontier.Add(output);
                continue;
            }
            var forward = new ActivationView(this, node);
            BackwardOps.Apply(new BackwardContext(Model, node, forward, dy, coefficients));
            coefficients.Remove(output);
        }
        if (coefficients.ContainsKey(Model.InputName)) frontier.Add(Model.InputName);

        var weights = new Dictionary<string, float[]>(StringComparer.Ordinal);
        double mass = 0;
        foreach (var tensor in frontier.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var g = coefficients[tensor];
            var a = Activation(tensor, null);
            var w = new float[a.Length];
            if (Shapes.TryChw(a.Shape, out int c, out int h, out int wd) && h * wd > 1)
            {
                int plane = h * wd;
                for (int p = 0; p < plane; p++)
                {
                    double net = 0, positive = 0;
                    for (int k = 0; k < c; k++)
                    {
                        double z = (double)g[k * plane + p] * a.Data[k * plane + p];
                        if (double.IsNaN(z)) continue;
                        net += z;
                        if (z > 0) positive += z;
                    }
                    if (!(net > 0) || !(positive > 0)) continue;
                    mass += net;
                    for (int k = 0; k < c; k++)
                    {
                        double z = (double)g[k * plane + p] * a.Data[k * plane + p];
                        if (z > 0) w[k * plane + p] = (float)(net * z / positive);
                    }
                }
            }
            else
            {
                for (int i = 0; i < w.Length; i++)
                {
                    double z = (double)g[i] * a.Data[i];
                    if (z > 0) { w[i] = (float)z; mass += z; }
                }
            }
            weights[tensor] = w;
        }
        if (mass > 0)
            foreach (var w in weights.Values)
                for (int i = 0; i < w.Length; i++) w[i] = (float)(w[i] / mass);
        return (weights, frontier.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(), mass);
    }

    /// <summary>
    /// Whether a node of <see cref="LinearOps"/> is linear here: Gemm, MatMul, Conv, Mul and Div need a
    /// constant weight or factor (Div: the divisor), Add, Sub and the rest are linear as they stand.
    /// </summary>
    private bool IsLinearHere(GraphNode node)
    {
        bool Const(int i) => node.InputOrNull(i) is { } t && Model.IsConstant(t);
        return node.OpType switch
        {
            "Gemm" or "Conv" => !Const(0) && Const(1),
            "MatMul" or "Mul" => Const(0) != Const(1),
            "Div" => !Const(0) && Const(1),
            _ => true,
        };
    }

    private WeightedResult Run((Dictionary<string, float[]> Weights, string[] Heads, double Mass) head)
    {
        // The head's weight per position of its (first) spatial tensor, for the cell rule below.
        float[]? cells = null;
        int cellH = 0, cellW = 0;
        foreach (var tensor in head.Heads)
        {
            var shape = Shape(tensor, null);
            if (!(Options.CellShare > 0) || !Shapes.TryChw(shape, out int c, out int h, out int w) || h * w <= 1) continue;
            var weights = head.Weights[tensor];
            cells = new float[h * w];
            for (int k = 0; k < c; k++)
                for (int p = 0; p < h * w; p++) cells[p] += weights[k * h * w + p];
            (cellH, cellW) = (h, w);
            break;
        }
        foreach (var (tensor, w) in head.Weights) _weights[tensor] = w;
        foreach (var node in _plan.Nodes)
        {
            if (node.Outputs.Count == 0 || !_weights.TryGetValue(node.Outputs[0], out var output)) continue;
            if (!HasWeight(output)) continue;
            var rule = _rules.Find(node) ?? throw new UnsupportedOperatorException(
                node.IsDefaultDomain
                    ? $"{node.Describe()}: op type {node.OpType} is not supported by CNN Fixations (no unravel rule covers it)"
                    : $"{node.Describe()}: op type {node.OpType} from domain '{node.Domain}' is not supported (only default-domain ONNX ops have unravel rules)");
            rule.Distribute(new WeightedStep(this, node, output, Shape(node.Outputs[0], node)));
        }
        var inputShape = Shape(Model.InputName, null);
        var input = _weights.TryGetValue(Model.InputName, out var wi) ? wi : new float[Shapes.ElementCount(inputShape)];
        if (cells != null && Shapes.TryChw(inputShape, out int ic, out int ih, out int iw)) KeepCells(input, ic, ih, iw, cells, cellH, cellW, Options.CellShare);
        return new WeightedResult(input, inputShape, head.Heads, head.Mass);
    }

    /// <summary>
    /// The cell rule: the input is cut into the head's grid of cells (input row y belongs to cell row
    /// <c>y * cellH / inputH</c>, likewise columns); each cell's weight is rescaled to the weight of its head
    /// position (for the share <see cref="UnravelOptions.CellShare"/>; the rest stays where the walk put it), so that the walk only moves weight within a cell (evenly over the cell's pixels when the
    /// walk brought none there). The class evidence of the head stays where the head found it.
    /// </summary>
    private static void KeepCells(float[] input, int channels, int h, int w, float[] cells, int cellH, int cellW, double share)
    {
        int plane = h * w;
        var totals = new double[cells.Length];
        var pixels = new int[cells.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int cell = y * cellH / h * cellW + x * cellW / w;
                pixels[cell]++;
                for (int c = 0; c < channels; c++) totals[cell] += input[c * plane + y * w + x];
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int cell = y * cellH / h * cellW + x * cellW / w;
                for (int c = 0; c < channels; c++)
                {
                    int i = c * plane + y * w + x;
                    double kept = totals[cell] > 0 ? input[i] * cells[cell] / totals[cell] : cells[cell] / ((double)pixels[cell] * channels);
                    input[i] = (float)(share * kept + (1 - share) * input[i]);
                }
            }
    }

    private static bool HasWeight(float[] w)
    {
        foreach (float v in w) if (v > 0) return true;
        return false;
    }

    internal TensorValue Activation(string tensor, GraphNode? node)
    {
        if (_activations.TryGetValue(tensor, out var value)) return value;
        if (Model.TryGetConstant(tensor) is { } c) return c.ToTensorValue();
        throw new InvalidOperationException($"activation '{tensor}' was not fetched{(node == null ? "" : " for " + node.Describe())}");
    }

    internal int[] Shape(string tensor, GraphNode? node)
    {
        if (_activations.TryGetValue(tensor, out var value)) return value.Shape;
        if (_shapes != null && _shapes.TryGetValue(tensor, out var shape)) return shape;
        return Activation(tensor, node).Shape;
    }

    internal ConstTensor Constant(string tensor, GraphNode node) =>
        Model.TryGetConstant(tensor) ?? throw new CnnFixationsException($"{node.Describe()}: the value of constant '{tensor}' is not available");

    internal float[] WeightsOf(string tensor, GraphNode node)
    {
        if (!_weights.TryGetValue(tensor, out var w))
        {
            w = new float[Shapes.ElementCount(Shape(tensor, node))];
            _weights[tensor] = w;
        }
        return w;
    }

    /// <summary>Forward values for the backward rules of the head (activations and constants).</summary>
    private sealed class ActivationView(WeightedWalk walk, GraphNode node) : IReadOnlyDictionary<string, TensorValue>
    {
        public TensorValue this[string key] => walk.Activation(key, node);
        public IEnumerable<string> Keys => throw new NotSupportedException();
        public IEnumerable<TensorValue> Values => throw new NotSupportedException();
        public int Count => throw new NotSupportedException();
        public bool ContainsKey(string key) => walk._activations.ContainsKey(key);
        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TensorValue value) => walk._activations.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, TensorValue>> GetEnumerator() => throw new NotSupportedException();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
