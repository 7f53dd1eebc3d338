using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// What a walk from one start tensor needs before the forward pass: the nodes it may visit
/// (ancestors of the start through data inputs), the activations to fetch, and the constants
/// that only ONNX Runtime can compute.
/// </summary>
public sealed class UnravelPlan
{
    private UnravelPlan(string start, List<GraphNode> nodes, List<string> tensors, List<string> values, List<string> runtimeConstants)
    {
        StartTensor = start;
        Nodes = nodes;
        Tensors = tensors;
        ValueTensors = values;
        RuntimeConstants = runtimeConstants;
    }

    public string StartTensor { get; }
    /// <summary>Nodes that may receive fixations, in reverse topological order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }
    /// <summary>Every non-constant tensor that may receive fixations (the walk needs their shapes); the network input excluded.</summary>
    public IReadOnlyList<string> Tensors { get; }
    /// <summary>The tensors among <see cref="Tensors"/> whose forward values the rules read.</summary>
    public IReadOnlyList<string> ValueTensors { get; }
    /// <summary>Constant tensors the rules read that are not computable without ONNX Runtime.</summary>
    public IReadOnlyList<string> RuntimeConstants { get; }

    /// <summary>
    /// The tensors a forward pass must return for this walk: the values the rules read, plus every
    /// tensor whose shape is not in <paramref name="staticShapes"/>, plus constants only ONNX Runtime can compute.
    /// </summary>
    public IReadOnlyList<string> FetchList(IReadOnlyDictionary<string, int[]>? staticShapes) =>
        ValueTensors
            .Concat(Tensors.Where(t => staticShapes == null || !staticShapes.ContainsKey(t)))
            .Concat(RuntimeConstants)
            .Distinct(StringComparer.Ordinal)
            .OrderBy(t => t, StringComparer.Ordinal)
            .ToList();

    public static UnravelPlan Create(OnnxModel model, string startTensor, RuleSet rules, UnravelOptions? options = null)
    {
        options ??= UnravelOptions.Default;
        if (!model.IsKnownTensor(startTensor))
            throw new CnnFixationsException($"tensor '{startTensor}' does not exist in the model (see 'cnn-fixations inspect')");
        if (model.IsConstant(startTensor))
            throw new CnnFixationsException($"tensor '{startTensor}' is a constant of the model, not an activation");

        var nodes = new Dictionary<int, GraphNode>();
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        var constants = new HashSet<string>(StringComparer.Ordinal);
        var values = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(startTensor);
        tensors.Add(startTensor);
        while (stack.Count > 0)
        {
            string t = stack.Pop();
            if (t == model.InputName) continue;
            var producer = model.Producer(t);
            if (producer == null || nodes.ContainsKey(producer.Index)) continue;
            nodes[producer.Index] = producer;
            var rule = rules.Find(producer);
            if (rule == null) continue; // an error only if fixations reach it
            CheckArity(producer);
            foreach (int i in rule.WalkedInputs(producer, model))
            {
                string input = producer.Inputs[i];
                if (tensors.Add(input)) stack.Push(input);
            }
            foreach (var c in rule.ConstantsRead(producer, model)) constants.Add(c);
            foreach (int i in rule.ValuesRead(producer, model, options)) values.Add(producer.Inputs[i]);
        }

        var ordered = nodes.Values.OrderByDescending(n => n.Index).ToList();
        var all = tensors.Where(t => t != model.InputName).OrderBy(t => t, StringComparer.Ordinal).ToList();
        // The weighted rules read the value of every tensor they walk through (and the head the values of its linear ops).
        if (options.Rules == RuleFamily.Weighted) values.UnionWith(tensors);
        var read = values.Where(t => t != model.InputName && !model.IsConstant(t)).OrderBy(t => t, StringComparer.Ordinal).ToList();
        var runtimeConstants = constants.Where(c => !model.IsComputedHere(c)).OrderBy(c => c, StringComparer.Ordinal).ToList();
        return new UnravelPlan(startTensor, ordered, all, read, runtimeConstants);
    }

    /// <summary>A node the walk may visit has the inputs its rule reads: the data input, and the weights of Conv, Gemm and MatMul.</summary>
    private static void CheckArity(GraphNode node)
    {
        int needed = node.OpType is "Conv" or "Gemm" or "MatMul" ? 2 : 1;
        for (int i = 0; i < needed; i++)
            if (node.InputOrNull(i) == null)
                throw new CnnFixationsException($"{node.Describe()} is malformed: it has {node.Inputs.Count(t => t.Length > 0)} inputs, {node.OpType} needs at least {needed}");
    }
}
