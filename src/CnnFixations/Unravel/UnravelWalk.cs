using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>The fixations found by one walk: on the network input and on every tensor on the way.</summary>
public sealed class UnravelResult
{
    internal UnravelResult(FixationSet input, IReadOnlyList<FixationSet> layers, IReadOnlyDictionary<string, double> ruleMs, IReadOnlyList<(string Node, double Ms)> nodeMs)
    {
        Input = input;
        Layers = layers;
        RuleMilliseconds = ruleMs;
        NodeMilliseconds = nodeMs;
    }

    /// <summary>Time spent in each unravelled node, in walk order, for profiling the walk.</summary>
    public IReadOnlyList<(string Node, double Ms)> NodeMilliseconds { get; }

    /// <summary>Time spent in each rule (by rule type name), for profiling the walk.</summary>
    public IReadOnlyDictionary<string, double> RuleMilliseconds { get; }

    /// <summary>The fixations on the network input tensor.</summary>
    public FixationSet Input { get; }

    /// <summary>Every tensor that received fixations, from the start tensor down to the input (walk order).</summary>
    public IReadOnlyList<FixationSet> Layers { get; }
}

/// <summary>
/// Walks the graph backwards from the start fixations, node by node in reverse topological
/// order; a tensor's set is complete once all its consumers have run (rule 11: union).
/// </summary>
public sealed class UnravelWalk
{
    private readonly UnravelPlan _plan;
    private readonly RuleSet _rules;
    private readonly ForwardValues _values;
    private readonly Dictionary<string, FixationSet> _sets = new(StringComparer.Ordinal);
    private readonly List<FixationSet> _order = new();

    /// <param name="shapes">Static shapes of tensors whose values were not fetched (see <see cref="Onnx.ShapeInference"/>).</param>
    public UnravelWalk(OnnxModel model, UnravelPlan plan, RuleSet rules, UnravelOptions options, IReadOnlyDictionary<string, TensorValue> activations,
        IReadOnlyDictionary<string, int[]>? shapes = null)
    {
        Model = model;
        _values = new ForwardValues(model, activations, shapes);
        _plan = plan;
        _rules = rules;
        Options = options;
    }

    public OnnxModel Model { get; }
    public UnravelOptions Options { get; }

    /// <summary>Threads the heavy rules may use (0: every core). The result does not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>Runs the walk from <paramref name="start"/>, a set on the plan's start tensor.</summary>
    public UnravelResult Run(FixationSet start)
    {
        if (start.Tensor != _plan.StartTensor) throw new ArgumentException("the start set is not on the plan's start tensor");
        _sets[start.Tensor] = start;
        _order.Add(start);
        var ruleMs = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var nodeMs = new List<(string, double)>();
        foreach (var node in _plan.Nodes)
        {
            FixationSet? output = null;
            for (int o = 0; o < node.Outputs.Count; o++)
            {
                if (!_sets.TryGetValue(node.Outputs[o], out var set) || set.IsEmpty) continue;
                if (o > 0)
                    throw new UnsupportedOperatorException($"{node.Describe()}: fixations reach its output #{o} ('{node.Outputs[o]}'); only the first output of an op can be unravelled");
                output = set;
            }
            if (output == null) continue;
            var rule = _rules.Require(node);
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            rule.Unravel(new UnravelStep(this, node, output));
            double ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            string key = rule.GetType().Name;
            ruleMs[key] = ruleMs.GetValueOrDefault(key) + ms;
            nodeMs.Add(($"{node.OpType} {node.Name} ({output.Count} out)", ms));
        }
        var input = _sets.TryGetValue(Model.InputName, out var s) ? s : new FixationSet(Model.InputName, Shape(Model.InputName, null));
        return new UnravelResult(input, _order, ruleMs, nodeMs);
    }

    internal TensorValue Activation(string tensor, GraphNode? node) => _values.Activation(tensor, node);

    internal int[] Shape(string tensor, GraphNode? node) => _values.Shape(tensor, node);

    internal ConstTensor Constant(string tensor, GraphNode node) => _values.Constant(tensor, node);

    /// <summary>The fixation set of a tensor, created (and put in walk order) when first asked for.</summary>
    internal FixationSet SetOf(string tensor)
    {
        if (!_sets.TryGetValue(tensor, out var set))
        {
            set = new FixationSet(tensor, Shape(tensor, null));
            _sets[tensor] = set;
            _order.Add(set);
        }
        return set;
    }
}
