using CnnFixations.Inference;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Baselines;

/// <summary>
/// The gradient of one class logit with respect to the tensors of the network, computed by this
/// project (ONNX Runtime does not differentiate): a forward pass fetching every activation between the
/// input and the logits, then the backward rules of <see cref="BackwardOps"/> in reverse topological
/// order, summing what each consumer sends back.
/// </summary>
public sealed class GradientEngine : IDisposable
{
    private readonly OnnxModel _model;
    private readonly ModelSession _session;
    private readonly List<GraphNode> _nodes;
    private readonly string[] _fetch;
    private readonly HashSet<int>? _below;

    /// <param name="from">Differentiate only down to this tensor (Grad-CAM): only the activations between it and the logits are fetched.</param>
    public GradientEngine(OnnxModel model, string logitsTensor, int intraOpThreads = 0, string? from = null)
    {
        _model = model;
        LogitsTensor = logitsTensor;
        From = from;
        var below = from == null ? null : model.Downstream(from).Nodes;
        _below = below;
        // Every non-constant ancestor of the logits, through all inputs (values are needed on every branch).
        var nodes = new Dictionary<int, GraphNode>();
        var tensors = new HashSet<string>(StringComparer.Ordinal) { logitsTensor };
        var stack = new Stack<string>();
        stack.Push(logitsTensor);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            var p = model.Producer(t);
            if (p == null || model.IsConstant(t) || nodes.ContainsKey(p.Index)) continue;
            if (below != null && !below.Contains(p.Index)) continue;
            nodes[p.Index] = p;
            foreach (var input in p.Inputs)
                if (input.Length > 0 && !model.IsConstant(input) && tensors.Add(input)) stack.Push(input);
        }
        _nodes = nodes.Values.OrderByDescending(n => n.Index).ToList();
        _fetch = tensors.Where(t => t != model.InputName).Order(StringComparer.Ordinal).ToArray();
        _session = new ModelSession(model, _fetch, intraOpThreads);
    }

    public string LogitsTensor { get; }
    public string? From { get; }

    /// <summary>The activations each forward pass fetches (all that the backward rules may read).</summary>
    internal IReadOnlyList<string> FetchedTensors => _fetch;

    /// <summary>The forward pass with every activation on the way to the logits (input included).</summary>
    public Dictionary<string, TensorValue> Forward(TensorValue input)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var values = _session.Run(input, _fetch);
        values[_model.InputName] = input;
        return values;
    }

    /// <summary>
    /// d logit[target] / d tensor for every tensor down to <paramref name="stopAt"/> (the network input when null).
    /// Returns gradients by tensor name; tensors the logit does not depend on are absent.
    /// </summary>
    public Dictionary<string, float[]> Backward(IReadOnlyDictionary<string, TensorValue> forward, int target, string? stopAt = null)
    {
        var grads = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var logits = forward[LogitsTensor];
        var seed = new float[logits.Length];
        seed[target] = 1;
        grads[LogitsTensor] = seed;
        // The nodes below From are computed once; another stop tensor is traversed per call.
        var needed = stopAt == null ? null : stopAt == From ? _below : _model.Downstream(stopAt).Nodes;
        foreach (var node in _nodes)
        {
            if (!grads.TryGetValue(node.Outputs[0], out var dy)) continue;
            if (needed != null && !needed.Contains(node.Index)) continue;
            var ctx = new BackwardContext(_model, node, forward, dy, grads);
            BackwardOps.Apply(ctx);
        }
        return grads;
    }

    /// <summary>Whether <see cref="Dispose"/> has released the session.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        _session.Dispose();
    }
}

/// <summary>What one backward rule sees: the node, forward values, the output gradient, and where to add input gradients.</summary>
public sealed class BackwardContext
{
    private readonly IReadOnlyDictionary<string, TensorValue> _forward;
    private readonly Dictionary<string, float[]> _grads;

    internal BackwardContext(OnnxModel model, GraphNode node, IReadOnlyDictionary<string, TensorValue> forward, float[] dy, Dictionary<string, float[]> grads)
    {
        Model = model;
        Node = node;
        _forward = forward;
        OutputGradient = dy;
        _grads = grads;
    }

    public OnnxModel Model { get; }
    public GraphNode Node { get; }
    public float[] OutputGradient { get; }

    public TensorValue Value(string tensor) =>
        _forward.TryGetValue(tensor, out var v) ? v
        : Model.TryGetConstant(tensor)?.ToTensorValue() ?? throw new CnnFixationsException($"{Node.Describe()}: the value of '{tensor}' is not available");

    public TensorValue Input(int i) => Value(Node.Inputs[i]);
    public TensorValue Output => Value(Node.Outputs[0]);
    public bool IsData(int i) => Node.InputOrNull(i) is { } t && !Model.IsConstant(t);

    /// <summary>The gradient buffer of input <paramref name="i"/> (created zeroed), to add into.</summary>
    public float[] InputGradient(int i)
    {
        string t = Node.Inputs[i];
        if (!_grads.TryGetValue(t, out var g))
        {
            g = new float[Value(t).Length];
            _grads[t] = g;
        }
        return g;
    }
}
