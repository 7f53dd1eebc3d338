using CnnFixations.Unravel;

namespace CnnFixations.Onnx;

/// <summary>How the walk treats one node.</summary>
public enum NodeRole
{
    /// <summary>Computes constants or shapes only (weights, Reshape targets): never walked.</summary>
    Constant,
    /// <summary>On a path from the input to the classifier logits, handled by a rule.</summary>
    Walked,
    /// <summary>Handled by a rule but not an ancestor of the logits (another output, a side branch).</summary>
    OffPath,
    /// <summary>Reachable from the logits with no rule: explaining this model fails at this node.</summary>
    Unhandled,
    /// <summary>No rule, but the walk can never reach it (e.g. the gate branch of a squeeze-excitation block).</summary>
    NotReached,
}

public sealed record NodeReport(int Index, string Name, string OpType, string Domain, IReadOnlyList<string> Outputs, int[]? Shape, string? Rule, NodeRole Role);

/// <summary>A model as the walk sees it: each node, its output shape, its rule, and what no rule covers.</summary>
public sealed class ModelInspection
{
    private ModelInspection(OnnxModel model, ScoreTensor logits, IReadOnlyList<NodeReport> nodes, int classes)
    {
        Model = model;
        LogitsTensor = logits.Tensor;
        ScoreReason = logits.Reason;
        Nodes = nodes;
        ClassCount = classes;
    }

    public OnnxModel Model { get; }
    public string LogitsTensor { get; }
    /// <summary>Why <see cref="LogitsTensor"/> was chosen as the class scores.</summary>
    public string ScoreReason { get; }
    public IReadOnlyList<NodeReport> Nodes { get; }
    public int ClassCount { get; }
    public IEnumerable<NodeReport> Unhandled => Nodes.Where(n => n.Role == NodeRole.Unhandled);

    /// <param name="inputShape">The input shape for shape inference; the model's own when null (shapes are unknown if it is not fixed).</param>
    /// <param name="outputName">The tensor holding the class scores (as explain's --output).</param>
    public static ModelInspection Inspect(OnnxModel model, int[]? inputShape = null, string? outputName = null)
    {
        var score = ClassifierHead.Choose(model, outputName);
        string logits = score.Tensor;
        inputShape ??= model.FixedInputShape();
        var shapes = inputShape != null ? ShapeInference.Infer(model, inputShape) : new Dictionary<string, int[]>();
        var plan = UnravelPlan.Create(model, logits, RuleSet.Default);
        var onPath = plan.Nodes.Select(n => n.Index).ToHashSet();
        // Nodes with no rule that a walk can reach: producers of tensors that walked rules send fixations to.
        var reachable = new HashSet<int>();
        foreach (var node in plan.Nodes)
            if (RuleSet.Default.Find(node) == null && ReachableWithoutRule(model, plan, node, shapes)) reachable.Add(node.Index);

        var reports = new List<NodeReport>();
        foreach (var node in model.Nodes)
        {
            var rule = RuleSet.Default.Find(node);
            bool constant = node.Outputs.Where(o => o.Length > 0).All(model.IsConstant);
            var role = constant ? NodeRole.Constant
                : !onPath.Contains(node.Index) ? (rule == null ? NodeRole.NotReached : NodeRole.OffPath)
                : rule != null ? NodeRole.Walked
                : reachable.Contains(node.Index) ? NodeRole.Unhandled : NodeRole.NotReached;
            int[]? shape = node.Outputs.Count > 0 && shapes.TryGetValue(node.Outputs[0], out var s) ? s : null;
            reports.Add(new NodeReport(node.Index, node.Name, node.OpType, node.Domain, node.Outputs, shape, rule?.GetType().Name, role));
        }
        int classes = shapes.TryGetValue(logits, out var ls) ? (int)Shapes.ElementCount(ls) : -1;
        return new ModelInspection(model, score, reports, classes);
    }

    /// <summary>
    /// Whether fixations can reach a rule-less node: some consumer of its output is walked and sends
    /// to that input. The gate of a Mul (the operand without the output's shape) receives nothing.
    /// </summary>
    private static bool ReachableWithoutRule(OnnxModel model, UnravelPlan plan, GraphNode node, IReadOnlyDictionary<string, int[]> shapes)
    {
        var walked = plan.Nodes.Select(n => n.Index).ToHashSet();
        foreach (var output in node.Outputs)
        {
            if (output == plan.StartTensor) return true;
            foreach (var (consumer, slot) in model.Consumers(output))
            {
                if (!walked.Contains(consumer.Index)) continue;
                var rule = RuleSet.Default.Find(consumer);
                if (rule == null) { if (ReachableWithoutRule(model, plan, consumer, shapes)) return true; continue; }
                if (consumer.OpType == "Mul" && consumer.IsDefaultDomain && RuleInputs.NonConstant(consumer, model).Count() == 2)
                {
                    // Only the operand with the output's shape (the lowest such) is followed; unknown shapes count as reachable.
                    if (!shapes.TryGetValue(consumer.Outputs[0], out var outShape)) return true;
                    int followed = RuleInputs.NonConstant(consumer, model)
                        .FirstOrDefault(i => shapes.TryGetValue(consumer.Inputs[i], out var s) && Shapes.SameShape(s, outShape), -1);
                    if (followed == slot || followed < 0) return true;
                    continue;
                }
                if (rule.WalkedInputs(consumer, model).Contains(slot)) return true;
            }
        }
        return false;
    }
}
