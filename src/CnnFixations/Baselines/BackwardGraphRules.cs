using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Baselines;

/// <summary>
/// The backward (vector-Jacobian) rule of each op as ONNX nodes: given the gradient tensor of a node's
/// output, emits the nodes computing its inputs' gradients. Each rule matches the rule of the same op in
/// <see cref="BackwardOps"/> (same straight-through ops, same tie-breaking, same unsupported cases).
/// </summary>
internal sealed partial class BackwardGraphRules
{
    private readonly OnnxModel _model;
    private readonly GraphEmitter _g;
    private readonly IReadOnlyDictionary<string, int[]> _shapes;
    private readonly Func<string, bool> _dependsOnSource;
    private readonly Action<string, string> _send;

    public BackwardGraphRules(OnnxModel model, GraphEmitter emitter, IReadOnlyDictionary<string, int[]> shapes, Func<string, bool> dependsOnSource, Action<string, string> send)
    {
        _model = model;
        _g = emitter;
        _shapes = shapes;
        _dependsOnSource = dependsOnSource;
        _send = send;
    }

    /// <summary>The ops with a backward graph rule: the same set as <see cref="BackwardOps.OpTypes"/>.</summary>
    internal static IReadOnlyCollection<string> OpTypes => Rules.Keys;

    private static readonly Dictionary<string, Action<BackwardGraphRules, Site>> Rules = CreateRules();

    private static Dictionary<string, Action<BackwardGraphRules, Site>> CreateRules()
    {
        var rules = new Dictionary<string, Action<BackwardGraphRules, Site>>(StringComparer.Ordinal);
        void Add(Action<BackwardGraphRules, Site> rule, params string[] ops) { foreach (var op in ops) rules.Add(op, rule); }
        Add((r, n) => { if (n.Wants(0)) n.Send(0, r.ReshapeTo(n.Dy, n.OutShape, n.InShape(0))); },
            "Identity", "Dropout", "Cast", "DequantizeLinear", "QuantizeLinear", "Flatten", "Reshape", "Squeeze", "Unsqueeze");
        Add((r, n) =>
        {
            if (!n.Wants(0)) return;
            // The gradient goes back through the inverse permutation.
            var perm = n.Node.Attributes.GetInts("perm") ?? Enumerable.Range(0, n.OutShape.Length).Reverse().Select(i => (long)i).ToArray();
            var inverse = new long[perm.Length];
            for (int d = 0; d < perm.Length; d++) inverse[perm[d]] = d;
            n.Send(0, r._g.Node("Transpose", new[] { n.Dy }, Attr.Ints("perm", inverse)));
        }, "Transpose");
        Add((r, n) => r.Relu(n), "Relu");
        Add((r, n) => r.LeakyRelu(n), "LeakyRelu");
        Add((r, n) => r.Clip(n), "Clip");
        Add((r, n) => { if (n.Wants(0)) n.Send(0, r.Mul(n.Dy, r.Mul(n.Y, r.Node("Sub", r._g.Scalar(1), n.Y)))); }, "Sigmoid");
        Add((r, n) => { if (n.Wants(0)) n.Send(0, r.Mul(n.Dy, r.Node("Sub", r._g.Scalar(1), r.Mul(n.Y, n.Y)))); }, "Tanh");
        Add((r, n) => r.HardSigmoid(n), "HardSigmoid");
        Add((r, n) => r.HardSwish(n), "HardSwish");
        Add((r, n) => r.BatchNorm(n), "BatchNormalization");
        Add((r, n) => r.Softmax(n), "Softmax");
        Add((r, n) => r.Gemm(n), "Gemm");
        Add((r, n) => r.MatMul(n), "MatMul");
        Add((r, n) => r.Conv(n), "Conv");
        Add((r, n) => r.MaxPool(n), "MaxPool");
        Add((r, n) => r.AveragePool(n), "AveragePool");
        Add((r, n) => r.GlobalPool(n, max: false), "GlobalAveragePool", "ReduceMean");
        Add((r, n) => r.GlobalPool(n, max: true), "GlobalMaxPool", "ReduceMax");
        Add((r, n) => r.AddSub(n, n.Node.OpType == "Sub"), "Add", "Sub");
        Add((r, n) => r.MulRule(n), "Mul");
        Add((r, n) => r.Div(n), "Div");
        Add((r, n) => r.Concat(n), "Concat");
        Add((r, n) => r.Pad(n), "Pad");
        return rules;
    }

    /// <summary>Emits the backward nodes of <paramref name="node"/>, whose first output has gradient <paramref name="dy"/>.</summary>
    public void Apply(GraphNode node, string dy)
    {
        if (!node.IsDefaultDomain) throw new UnsupportedOperatorException($"{node.Describe()}: no backward rule for domain '{node.Domain}'");
        if (!Rules.TryGetValue(node.OpType, out var rule))
            throw new UnsupportedOperatorException($"{node.Describe()}: op type {node.OpType} has no backward graph rule");
        rule(this, new Site(this, node, dy));
    }

    // ---- element-wise activations: a mask or a derivative from the forward tensors of the same graph ----

    private void Relu(Site n)
    {
        // y > 0 exactly where x > 0; reading the output keeps ONNX Runtime's Conv+Relu fusion possible.
        if (n.Wants(0)) n.Send(0, Where(Node("Greater", n.Y, _g.Scalar(0)), n.Dy, _g.Scalar(0)));
    }

    private void LeakyRelu(Site n)
    {
        if (!n.Wants(0)) return;
        float alpha = n.Node.Attributes.GetFloat("alpha", 0.01f);
        string positive = Node("Greater", alpha >= 0 ? n.Y : n.X(0), _g.Scalar(0));
        n.Send(0, Where(positive, n.Dy, Mul(n.Dy, _g.Scalar(alpha))));
    }

    private void Clip(Site n)
    {
        if (!n.Wants(0)) return;
        var a = n.Node.Attributes;
        string? lo = ClipBound(n, 1, a.Has("min") ? a.GetFloat("min", 0) : null);
        string? hi = ClipBound(n, 2, a.Has("max") ? a.GetFloat("max", 0) : null);
        // min < y < max exactly where min < x < max (y is x clamped).
        string? mask = lo == null ? null : Node("Greater", n.Y, lo);
        if (hi != null)
        {
            string below = Node("Less", n.Y, hi);
            mask = mask == null ? below : Node("And", mask, below);
        }
        n.Send(0, mask == null ? n.Dy : Where(mask, n.Dy, _g.Scalar(0)));
    }

    private string? ClipBound(Site n, int input, float? attribute)
    {
        if (n.Node.InputOrNull(input) is not { } t) return attribute is { } v ? _g.Scalar(v) : null;
        return _model.IsConstant(t) && _model.TryGetConstant(t) is { Length: 1 } c ? _g.Scalar((float)c.GetDouble(0)) : t;
    }

    private void HardSigmoid(Site n)
    {
        if (!n.Wants(0)) return;
        float alpha = n.Node.Attributes.GetFloat("alpha", 0.2f);
        // 0 < alpha*x + beta < 1 exactly where 0 < y < 1.
        string inside = Node("And", Node("Greater", n.Y, _g.Scalar(0)), Node("Less", n.Y, _g.Scalar(1)));
        n.Send(0, Where(inside, Mul(n.Dy, _g.Scalar(alpha)), _g.Scalar(0)));
    }

    private void HardSwish(Site n)
    {
        if (!n.Wants(0)) return;
        string x = n.X(0);
        // 0 for x <= -3, 1 for x >= 3, (2x + 3) / 6 between.
        string ramp = Node("Div", Node("Add", Mul(x, _g.Scalar(2)), _g.Scalar(3)), _g.Scalar(6));
        string derivative = Where(Node("Greater", x, _g.Scalar(-3)), Where(Node("Less", x, _g.Scalar(3)), ramp, _g.Scalar(1)), _g.Scalar(0));
        n.Send(0, Mul(n.Dy, derivative));
    }

    private void BatchNorm(Site n)
    {
        if (!n.Wants(0)) return;
        var gamma = Constant(n, 1).ToFloats();
        var variance = Constant(n, 4).ToFloats();
        double eps = n.Node.Attributes.GetFloat("epsilon", 1e-5f);
        var x = n.InShape(0);
        if (x.Length < 2 || gamma.Length != x[1] || variance.Length != x[1]) throw n.Unsupported("scale or variance does not match the channels");
        var scale = new float[x[1]];
        for (int c = 0; c < scale.Length; c++) scale[c] = (float)(gamma[c] / Math.Sqrt(variance[c] + eps));
        var shape = new int[x.Length - 1];
        Array.Fill(shape, 1);
        shape[0] = x[1];
        n.Send(0, Mul(n.Dy, _g.Floats(scale, shape)));
    }

    private void Softmax(Site n)
    {
        var y = n.OutShape;
        int axis = (int)n.Node.Attributes.GetInt("axis", -1);
        if (axis < 0) axis += y.Length;
        if (axis != y.Length - 1) throw n.Unsupported("softmax over an inner axis is not differentiated");
        if (!n.Wants(0)) return;
        string dot = ReduceSum(Mul(n.Dy, n.Y), new long[] { axis }, keepDims: true);
        n.Send(0, Mul(n.Y, Node("Sub", n.Dy, dot)));
    }

    // ---- helpers ----

    private ConstTensor Constant(Site n, int input) =>
        n.Node.InputOrNull(input) is { } t && _model.IsConstant(t) && _model.TryGetConstant(t) is { } c ? c
        : throw n.Unsupported($"input {input} is not a constant");

    private string Node(string op, params string[] inputs) => _g.Node(op, inputs);

    private string Mul(string a, string b) => _g.Node("Mul", new[] { a, b });

    private string Where(string condition, string whenTrue, string whenFalse) => _g.Node("Where", new[] { condition, whenTrue, whenFalse });

    private string ReshapeTo(string gradient, int[] from, int[] to) =>
        Shapes.SameShape(from, to) ? gradient : _g.Node("Reshape", new[] { gradient, _g.Int64s(to.Select(d => (long)d).ToArray()) });

    private string ReduceSum(string x, long[] axes, bool keepDims) =>
        _model.OpsetVersion >= 13
            ? _g.Node("ReduceSum", new[] { x, _g.Int64s(axes) }, Attr.Int("keepdims", keepDims ? 1 : 0))
            : _g.Node("ReduceSum", new[] { x }, Attr.Ints("axes", axes), Attr.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>A gradient of the broadcast output's shape summed down to an input's shape.</summary>
    private string ReduceTo(string gradient, int[] outShape, int[] inShape)
    {
        if (Shapes.SameShape(outShape, inShape)) return gradient;
        int offset = outShape.Length - inShape.Length;
        var axes = new List<long>();
        for (int d = 0; d < outShape.Length; d++)
            if (d < offset || inShape[d - offset] == 1 && outShape[d] != 1) axes.Add(d);
        string reduced = axes.Count == 0 ? gradient : ReduceSum(gradient, axes.ToArray(), keepDims: true);
        return _g.Node("Reshape", new[] { reduced, _g.Int64s(inShape.Select(d => (long)d).ToArray()) });
    }

    /// <summary>One node being differentiated: its inputs, shapes, and where its input gradients go.</summary>
    private readonly struct Site
    {
        private readonly BackwardGraphRules _rules;

        public Site(BackwardGraphRules rules, GraphNode node, string dy)
        {
            _rules = rules;
            Node = node;
            Dy = dy;
        }

        public GraphNode Node { get; }
        /// <summary>The gradient of the node's first output.</summary>
        public string Dy { get; }
        /// <summary>The node's first output (a forward tensor of the same graph).</summary>
        public string Y => Node.Outputs[0];
        public int[] OutShape => Shape(Y);

        public string X(int i) => Node.Inputs[i];

        /// <summary>Whether input <paramref name="i"/> is an activation that depends on the source (so it gets a gradient).</summary>
        public bool Wants(int i) => Node.InputOrNull(i) is { } t && !_rules._model.IsConstant(t) && _rules._dependsOnSource(t);

        /// <summary>Whether input <paramref name="i"/> is an activation at all (<see cref="BackwardOps"/>' notion of data).</summary>
        public bool IsData(int i) => Node.InputOrNull(i) is { } t && !_rules._model.IsConstant(t);

        public void Send(int i, string gradient) => _rules._send(Node.Inputs[i], gradient);

        public int[] InShape(int i) => Shape(Node.Inputs[i]);

        public int[] Shape(string tensor) =>
            _rules._shapes.TryGetValue(tensor, out var s) ? s
            : _rules._model.IsConstant(tensor) && _rules._model.TryGetConstant(tensor) is { } c ? c.Shape
            : throw Unsupported($"the shape of '{tensor}' is not known statically");

        public UnsupportedOperatorException Unsupported(string why) => new($"{Node.Describe()}: {why}");
    }
}
