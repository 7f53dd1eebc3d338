using CnnFixations.Baselines;
using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Unravel;

/// <summary>
/// A rule's weighted form (<see cref="IUnravelRule.Distribute"/>) as ONNX nodes, so that ONNX Runtime runs the
/// weighted walk below the head (<see cref="WeightedGraph"/>). Each rule that has one implements it next to its
/// <see cref="IUnravelRule.Distribute"/>, with the same shares; a rule without one makes the managed walk run instead.
/// </summary>
internal interface IWeightedGraphRule
{
    /// <summary>Emits the nodes that share the weights of <see cref="WeightedGraphStep.Output"/> among the node's inputs.</summary>
    void Emit(WeightedGraphStep step);
}

/// <summary>
/// The weighted walk below the head (docs/cnn-fixations.md, "Weighted rules", rule 2) as a standalone ONNX model:
/// its inputs are the head's weights and the activations the rules read (fed from the forward pass), its output the
/// weight of every neuron of the network input. ONNX Runtime runs the rules' convolutions and their transposes
/// (two passes over the positive parts of the weights), the way the gradient graph runs a backward pass. The
/// results equal the managed walk's (<see cref="WeightedWalk"/>, the rules' <c>Distribute</c>) up to float rounding:
/// the managed walk accumulates in a fixed order and divides in double precision, ONNX Runtime uses its own kernels.
/// </summary>
public sealed class WeightedGraph
{
    internal const string OutputName = "cnnfx_w_input";
    internal const string Prefix = "cnnfx_w/";
    private const int Opset = 17;

    private WeightedGraph(IReadOnlyList<string> heads, IReadOnlyList<int[]> headShapes, IReadOnlyList<string> activations, IReadOnlyList<int[]> activationShapes,
        int[] inputShape, IReadOnlyList<string> tensors, int nodeCount, byte[] bytes)
    {
        Heads = heads;
        HeadShapes = headShapes;
        Activations = activations;
        ActivationShapes = activationShapes;
        InputShape = inputShape;
        Tensors = tensors;
        NodeCount = nodeCount;
        Bytes = bytes;
    }

    /// <summary>The tensors whose weights start the walk, in the order of the graph's head inputs.</summary>
    public IReadOnlyList<string> Heads { get; }
    public IReadOnlyList<int[]> HeadShapes { get; }
    /// <summary>The forward activations the graph reads (its other inputs, under their own names).</summary>
    public IReadOnlyList<string> Activations { get; }
    public IReadOnlyList<int[]> ActivationShapes { get; }
    /// <summary>The network input's shape (the output's).</summary>
    public int[] InputShape { get; }
    /// <summary>The tensors the walk goes through, in walk order (the network input last when reached).</summary>
    public IReadOnlyList<string> Tensors { get; }
    /// <summary>How many nodes the graph has (constants included).</summary>
    public int NodeCount { get; }
    /// <summary>The serialized ONNX model.</summary>
    internal byte[] Bytes { get; }

    /// <summary>
    /// Weight matrices too large to copy into the model (fully connected layers' positive parts): graph inputs, fed from
    /// these arrays on every run, so that neither the serialized model nor ONNX Runtime holds another copy.
    /// </summary>
    internal IReadOnlyList<(string Name, float[] Data, int[] Shape)> LargeWeights { get; private init; } = Array.Empty<(string, float[], int[])>();

    /// <summary>Weights of at least this many elements are fed as inputs (see <see cref="LargeWeights"/>); tests lower it (the results are the same).</summary>
    internal static int LargeWeightElements { get; set; } = 1 << 20;

    internal static string HeadInput(int i) => $"{Prefix}head{i}";

    /// <summary>Builds the graph of the walk from <paramref name="heads"/> down to the network input.</summary>
    /// <exception cref="UnsupportedOperatorException">A node on the way has no ONNX form of its rule, or a shape is not known.</exception>
    public static WeightedGraph Build(OnnxModel model, UnravelPlan plan, RuleSet rules, UnravelOptions options, IReadOnlyList<string> heads, Func<string, int[]?> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(model);
        var builder = new Builder(model, options, shapeOf);
        var headShapes = new List<int[]>();
        for (int i = 0; i < heads.Count; i++)
        {
            headShapes.Add(builder.Shape(heads[i]));
            builder.Add(heads[i], HeadInput(i));
        }
        var tensors = new List<string>(heads);
        foreach (var node in plan.Nodes)
        {
            if (node.Outputs.Count == 0 || !builder.Has(node.Outputs[0])) continue;
            var rule = rules.Require(node);
            if (rule is not IWeightedGraphRule graphRule)
                throw new UnsupportedOperatorException($"{node.Describe()}: the weighted rule of {node.OpType} has no ONNX form");
            int before = builder.Sent.Count;
            graphRule.Emit(new WeightedGraphStep(builder, node, builder.Total(node.Outputs[0]), builder.Shape(node.Outputs[0])));
            foreach (var t in builder.Sent.Skip(before)) if (!tensors.Contains(t)) tensors.Add(t);
        }
        var inputShape = builder.Shape(model.InputName);
        var g = builder.G;
        if (builder.Has(model.InputName))
            g.NodeWithOutputs("Identity", new[] { builder.Total(model.InputName) }, new[] { OutputName });
        else
            g.NodeWithOutputs("Identity", new[] { g.Floats(new float[Shapes.ElementCount(inputShape)], inputShape) }, new[] { OutputName });
        if (tensors.Remove(model.InputName)) tensors.Add(model.InputName);

        var graph = g.Graph;
        graph.Name = "cnn-fixations weighted walk";
        for (int i = 0; i < heads.Count; i++) graph.Input.Add(GraphEmitter.FloatValueInfo(HeadInput(i), headShapes[i]));
        var activations = builder.ActivationInputs.ToList();
        foreach (var a in activations)
        {
            if (a.StartsWith(Prefix, StringComparison.Ordinal)) throw new UnsupportedOperatorException($"the model already uses tensor names starting with '{Prefix}'");
            graph.Input.Add(GraphEmitter.FloatValueInfo(a, builder.Shape(a)));
        }
        graph.Output.Add(GraphEmitter.FloatValueInfo(OutputName, inputShape));
        var proto = new ModelProto { IrVersion = 8, ProducerName = "cnn-fixations", Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (name, _, shape) in builder.LargeWeights) graph.Input.Add(GraphEmitter.FloatValueInfo(name, shape));
        return new WeightedGraph(heads.ToArray(), headShapes, activations, activations.Select(builder.Shape).ToList(), inputShape, tensors, graph.Node.Count, proto.ToByteArray())
        {
            LargeWeights = builder.LargeWeights.ToArray(),
        };
    }

    /// <summary>The graph under construction: weight parts per tensor (summed when the tensor's producer is reached), activation inputs, shapes.</summary>
    internal sealed class Builder
    {
        private readonly OnnxModel _model;
        private readonly Func<string, int[]?> _shapeOf;
        private readonly Dictionary<string, bool> _nonNegative = new(StringComparer.Ordinal);
        private readonly PartSums _sums;

        public Builder(OnnxModel model, UnravelOptions options, Func<string, int[]?> shapeOf)
        {
            _model = model;
            Options = options;
            _shapeOf = shapeOf;
            _sums = new PartSums(G, pairwise: true);
        }

        public GraphEmitter G { get; } = new(Prefix);
        public OnnxModel Model => _model;
        public UnravelOptions Options { get; }
        public SortedSet<string> ActivationInputs { get; } = new(StringComparer.Ordinal);
        public List<(string Name, float[] Data, int[] Shape)> LargeWeights { get; } = new();
        /// <summary>Tensors that received weight, in the order they first did.</summary>
        public List<string> Sent => _sums.Order;

        public bool Has(string tensor) => _sums.Has(tensor);
        public void Add(string tensor, string weights) => _sums.Add(tensor, weights);
        public string Total(string tensor) => _sums.Total(tensor);

        public int[] Shape(string tensor) =>
            _shapeOf(tensor) ?? _model.ConstantShape(tensor) ?? throw new UnsupportedOperatorException($"the shape of '{tensor}' is not known statically");

        /// <summary>Whether a tensor cannot hold negative values by how it is made (ReLU-like ops, then ops that keep signs).</summary>
        public bool NonNegative(string tensor)
        {
            if (_nonNegative.TryGetValue(tensor, out bool known)) return known;
            _nonNegative[tensor] = false; // cycles are impossible in a valid graph; this also stops deep recursion repeating work
            bool result = Decide(tensor);
            _nonNegative[tensor] = result;
            return result;
        }

        private bool ConstantAtLeastZero(string tensor) =>
            _model.TryGetConstant(tensor) is { IsFloat: true } c && c.ToFloats().All(v => v >= 0);

        private bool Decide(string tensor)
        {
            if (_model.IsConstant(tensor)) return _model.TryGetConstant(tensor) is { } c && Enumerable.Range(0, c.Length).All(i => c.GetDouble(i) >= 0);
            if (_model.Producer(tensor) is not { IsDefaultDomain: true } p) return false;
            switch (p.OpType)
            {
                case "Relu" or "Sigmoid" or "Softmax" or "Abs" or "Exp" or "HardSigmoid" or "Softplus":
                    return true;
                case "Clip":
                    {
                        var a = p.Attributes;
                        if (a.Has("min")) return a.GetFloat("min", 0) >= 0;
                        return p.InputOrNull(1) is { } lo && _model.TryGetConstant(lo) is { Length: 1 } m && m.GetDouble(0) >= 0;
                    }
                case "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "ReduceMean" or "ReduceMax" or "Reshape" or "Flatten"
                    or "Squeeze" or "Unsqueeze" or "Transpose" or "Identity" or "Dropout" or "Cast":
                    return p.InputOrNull(0) is { } x && NonNegative(x);
                case "Pad":
                    return p.InputOrNull(0) is { } px && NonNegative(px) && (p.InputOrNull(2) is not { } v || ConstantAtLeastZero(v))
                        && p.Attributes.GetFloat("value", 0) >= 0 && p.Attributes.GetString("mode", "constant") == "constant";
                case "Concat" or "Add" or "Mul" or "Max":
                    return p.Inputs.Where(t => t.Length > 0).All(NonNegative);
                case "DequantizeLinear":
                    {
                        // (q - zero point) * scale >= 0 when q came from quantizing a non-negative tensor with the same scale (> 0) and zero point.
                        if (p.InputOrNull(0) is not { } q || _model.Producer(q) is not { OpType: "QuantizeLinear" } quantize) return false;
                        if (quantize.InputOrNull(0) is not { } source || !NonNegative(source)) return false;
                        var scale = p.InputOrNull(1) is { } s ? _model.TryGetConstant(s) : null;
                        var scaleQ = quantize.InputOrNull(1) is { } sq ? _model.TryGetConstant(sq) : null;
                        if (scale == null || scaleQ == null || !SameValues(scale, scaleQ) || Enumerable.Range(0, scale.Length).Any(i => !(scale.GetDouble(i) > 0))) return false;
                        var zero = p.InputOrNull(2) is { } z ? _model.TryGetConstant(z) : null;
                        var zeroQ = quantize.InputOrNull(2) is { } zq ? _model.TryGetConstant(zq) : null;
                        return zero == null && zeroQ == null || zero != null && zeroQ != null && SameValues(zero, zeroQ);
                    }
                default:
                    return false;
            }
        }

        private static bool SameValues(ConstTensor a, ConstTensor b) =>
            a.Length == b.Length && Enumerable.Range(0, a.Length).All(i => a.GetDouble(i) == b.GetDouble(i));
    }
}

/// <summary>
/// What a rule sees while it emits its weighted form (<see cref="IWeightedGraphRule.Emit"/>): the node, the name of
/// its output's weight tensor, shapes, constants, the activations it reads (graph inputs), and where its inputs' weights go.
/// </summary>
internal sealed class WeightedGraphStep
{
    private readonly WeightedGraph.Builder _b;

    internal WeightedGraphStep(WeightedGraph.Builder builder, GraphNode node, string output, int[] outputShape)
    {
        _b = builder;
        Node = node;
        Output = output;
        OutputShape = outputShape;
    }

    public GraphNode Node { get; }
    /// <summary>The weight tensor of the node's (first) output.</summary>
    public string Output { get; }
    public int[] OutputShape { get; }
    public GraphEmitter G => _b.G;
    public OnnxModel Model => _b.Model;
    public UnravelOptions Options => _b.Options;

    public int[] Shape(string tensor) => _b.Shape(tensor);
    public int[] InShape(int i) => _b.Shape(Node.Inputs[i]);
    public ConstTensor Constant(string tensor) =>
        Model.TryGetConstant(tensor) ?? throw Unsupported($"the value of constant '{tensor}' is not available");

    /// <summary>The forward activation of input <paramref name="i"/>: a graph input fed from the forward pass.</summary>
    public string Activation(int i)
    {
        string t = Node.Inputs[i];
        if (Model.IsConstant(t)) throw Unsupported($"input {i} is a constant");
        _b.ActivationInputs.Add(t);
        return t;
    }

    /// <summary>A constant weight tensor: a Constant node, or a graph input fed on every run when it is large (see <see cref="WeightedGraph.LargeWeights"/>).</summary>
    public string Weights(float[] data, int[] shape)
    {
        if (data.Length < WeightedGraph.LargeWeightElements) return G.Floats(data, shape);
        string name = $"{WeightedGraph.Prefix}weights{_b.LargeWeights.Count}";
        _b.LargeWeights.Add((name, data, shape));
        return name;
    }

    /// <summary>Whether input <paramref name="i"/> cannot be negative by how the network makes it (then its negative part is not formed).</summary>
    public bool NonNegative(int i) => _b.NonNegative(Node.Inputs[i]);

    /// <summary>Adds <paramref name="weights"/> (input <paramref name="i"/>'s shape) to input <paramref name="i"/>'s weights.</summary>
    public void Send(int i, string weights) => _b.Add(Node.Inputs[i], weights);

    /// <summary>The output's weights to input <paramref name="i"/>, index for index (or summed onto a broadcast input).</summary>
    public void PassThrough(int i) => Send(i, Fit(Output, OutputShape, InShape(i)));

    /// <summary>Weights of shape <paramref name="from"/> as shape <paramref name="to"/>: reshaped when the sizes agree, summed over broadcast axes otherwise.</summary>
    public string Fit(string weights, int[] from, int[] to)
    {
        if (Shapes.SameShape(from, to)) return weights;
        if (Shapes.ElementCount(from) == Shapes.ElementCount(to)) return Reshape(weights, to);
        int offset = from.Length - to.Length;
        if (offset < 0) throw Unsupported($"weights {Shapes.Format(from)} cannot go to {Shapes.Format(to)}");
        var axes = new List<long>();
        for (int d = 0; d < from.Length; d++)
        {
            if (d < offset || to[d - offset] == 1 && from[d] != 1) axes.Add(d);
            else if (to[d - offset] != from[d]) throw Unsupported($"weights {Shapes.Format(from)} cannot go to {Shapes.Format(to)}");
        }
        return Reshape(ReduceSum(weights, axes.ToArray(), keepDims: true), to);
    }

    public string Op(string op, params string[] inputs) => G.Node(op, inputs);
    public string Op(string op, string[] inputs, params AttributeProto[] attributes) => G.Node(op, inputs, attributes);
    public string Scalar(float v) => G.Scalar(v);
    public string Reshape(string t, int[] shape) => G.Node("Reshape", new[] { t, G.Int64s(shape.Select(d => (long)d).ToArray()) });
    public string ReduceSum(string t, long[] axes, bool keepDims) => G.Node("ReduceSum", new[] { t, G.Int64s(axes) }, Attr.Int("keepdims", keepDims ? 1 : 0));
    public string Where(string condition, string whenTrue, string whenFalse) => G.Node("Where", new[] { condition, whenTrue, whenFalse });

    public UnsupportedOperatorException Unsupported(string why) => new($"{Node.Describe()}: {why}");
}
