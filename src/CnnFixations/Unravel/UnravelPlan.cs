using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// What a walk from one start tensor needs before the forward pass: the nodes it may visit
/// (ancestors of the start through data inputs), the activations to fetch, and the constants
/// that only ONNX Runtime can compute.
/// </summary>
public sealed class UnravelPlan
{
    private UnravelPlan(string start, List<GraphNode> nodes, List<string> activations, List<string> runtimeConstants)
    {
        StartTensor = start;
        Nodes = nodes;
        ActivationTensors = activations;
        RuntimeConstants = runtimeConstants;
    }

    public string StartTensor { get; }
    /// <summary>Nodes that may receive fixations, in reverse topological order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }
    /// <summary>Non-constant tensors whose forward values (and shapes) the walk reads; the network input excluded.</summary>
    public IReadOnlyList<string> ActivationTensors { get; }
    /// <summary>Constant tensors the rules read that are not computable without ONNX Runtime.</summary>
    public IReadOnlyList<string> RuntimeConstants { get; }

    public static UnravelPlan Create(OnnxModel model, string startTensor, RuleSet rules)
    {
        if (!model.IsKnownTensor(startTensor))
            throw new CnnFixationsException($"tensor '{startTensor}' does not exist in the model (see 'cnn-fixations inspect')");
        if (model.IsConstant(startTensor))
            throw new CnnFixationsException($"tensor '{startTensor}' is a constant of the model, not an activation");

        var nodes = new Dictionary<int, GraphNode>();
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        var constants = new HashSet<string>(StringComparer.Ordinal);
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
        }

        var ordered = nodes.Values.OrderByDescending(n => n.Index).ToList();
        var activations = tensors.Where(t => t != model.InputName).OrderBy(t => t, StringComparer.Ordinal).ToList();
        var runtimeConstants = constants.Where(c => model.TryGetConstant(c) == null).OrderBy(c => c, StringComparer.Ordinal).ToList();
        return new UnravelPlan(startTensor, ordered, activations, runtimeConstants);
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
