using CnnFixations.Baselines;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Onnx;

/// <summary>
/// Each op's semantics live in several places: the walk's rules (<see cref="RuleSet.Default"/>), shape inference
/// (<see cref="ShapeInference"/>), the two backward passes (<see cref="BackwardOps"/> in C#, <see cref="BackwardGraphRules"/>
/// as ONNX nodes) and the CAM/Grad-CAM classifier search (<see cref="ClassifierStructure"/>). Each place enumerates
/// the ops it dispatches on; these tests fail when an op is handled in one place and not in another, unless the
/// difference is listed below with its reason.
/// </summary>
public class OpCoverageTests
{
    private static HashSet<string> Walk => RuleSet.Default.OpTypes.ToHashSet(StringComparer.Ordinal);
    private static HashSet<string> Shape => ShapeInference.OpTypes.ToHashSet(StringComparer.Ordinal);
    private static HashSet<string> Backward => BackwardOps.OpTypes.ToHashSet(StringComparer.Ordinal);

    /// <summary>Ops with a walk rule but no backward rule: the gradient methods (Grad-CAM, gradient) refuse models with them; CNN Fixations does not need gradients.</summary>
    private static readonly Dictionary<string, string> WalkWithoutBackward = new(StringComparer.Ordinal)
    {
        ["PRelu"] = "learned slope per channel: no gradient rule written yet (no fixture uses it)",
        ["Elu"] = "no gradient rule written yet (no fixture uses it)",
        ["Selu"] = "no gradient rule written yet (no fixture uses it)",
        ["Celu"] = "no gradient rule written yet (no fixture uses it)",
        ["Softplus"] = "no gradient rule written yet (no fixture uses it)",
        ["Gelu"] = "no gradient rule written yet (no fixture uses it)",
        ["Mish"] = "no gradient rule written yet (no fixture uses it)",
        ["ThresholdedRelu"] = "no gradient rule written yet (no fixture uses it)",
        ["Softsign"] = "no gradient rule written yet (no fixture uses it)",
        ["LRN"] = "cross-channel normalization: the walk passes neurons straight through it, a gradient would need its full Jacobian",
        ["LogSoftmax"] = "only after the logits in practice (the walk starts before it); no gradient rule written",
        ["ImageScaler"] = "legacy Caffe preprocessing op before the first layer; no gradient rule written",
        ["LpPool"] = "no gradient rule written yet (no fixture uses it)",
        ["GlobalLpPool"] = "no gradient rule written yet (no fixture uses it)",
    };

    /// <summary>Ops whose shape is inferred but that no walk rule covers: shapes are also needed around the walked part (pre- and post-processing, shape computations); the walk stops with an error naming such an op if it reaches one.</summary>
    private static readonly Dictionary<string, string> ShapeWithoutWalk = new(StringComparer.Ordinal)
    {
        ["Neg"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Abs"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Exp"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Log"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Sqrt"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Reciprocal"] = "element-wise arithmetic of pre-/post-processing; not a CNN layer",
        ["Erf"] = "inside decomposed GELU subgraphs, which the walk does not follow",
        ["Floor"] = "quantization arithmetic; not a CNN layer",
        ["Ceil"] = "quantization arithmetic; not a CNN layer",
        ["Pow"] = "normalization arithmetic; not a CNN layer",
        ["Max"] = "element-wise Max of several tensors: no fixation rule in the spec",
        ["Min"] = "element-wise Min of several tensors: no fixation rule in the spec",
        ["Sum"] = "variadic Sum: no fixation rule in the spec",
        ["Mean"] = "variadic Mean: no fixation rule in the spec",
        ["Where"] = "selection between tensors: no fixation rule in the spec",
        ["InstanceNormalization"] = "statistics over the whole plane: no fixation rule in the spec",
        ["LayerNormalization"] = "statistics over the whole feature: no fixation rule in the spec",
        ["ReduceMin"] = "no fixation rule in the spec",
        ["ReduceSum"] = "no fixation rule in the spec",
        ["Constant"] = "a value, not a layer: the walk reads constants, it never walks into them",
        ["Shape"] = "a shape computation, not a layer",
    };

    /// <summary>Ops whose shape is not inferred although a walk rule covers them: the plan fetches their shapes from the forward pass instead.</summary>
    private static readonly Dictionary<string, string> WalkWithoutShape = new(StringComparer.Ordinal);

    [Fact]
    public void The_two_backward_passes_handle_the_same_ops() =>
        Assert.Equal(BackwardOps.OpTypes.Order(StringComparer.Ordinal), BackwardGraphRules.OpTypes.Order(StringComparer.Ordinal));

    [Fact]
    public void Every_op_with_a_backward_rule_has_a_walk_rule_and_a_shape_rule()
    {
        Assert.DoesNotContain(Backward, op => !Walk.Contains(op));
        Assert.DoesNotContain(Backward, op => !Shape.Contains(op));
    }

    [Fact]
    public void Every_walked_op_has_a_backward_rule_unless_listed()
    {
        var missing = Walk.Where(op => !Backward.Contains(op) && !WalkWithoutBackward.ContainsKey(op)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "walked but no backward rule (add one, or list it with the reason): " + string.Join(", ", missing));
        var stale = WalkWithoutBackward.Keys.Where(op => !Walk.Contains(op) || Backward.Contains(op)).ToList();
        Assert.True(stale.Count == 0, "listed as walked without a backward rule, which is no longer so: " + string.Join(", ", stale));
    }

    [Fact]
    public void Every_walked_op_has_a_shape_rule_unless_listed()
    {
        var missing = Walk.Where(op => !Shape.Contains(op) && !WalkWithoutShape.ContainsKey(op)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "walked but no shape rule (add one, or list it with the reason): " + string.Join(", ", missing));
        Assert.DoesNotContain(WalkWithoutShape.Keys, op => !Walk.Contains(op) || Shape.Contains(op));
    }

    [Fact]
    public void Every_op_with_a_shape_rule_is_walked_unless_listed()
    {
        var missing = Shape.Where(op => !Walk.Contains(op) && !ShapeWithoutWalk.ContainsKey(op)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "shape rule but no walk rule (add one, or list it with the reason): " + string.Join(", ", missing));
        var stale = ShapeWithoutWalk.Keys.Where(op => !Shape.Contains(op) || Walk.Contains(op)).ToList();
        Assert.True(stale.Count == 0, "listed as shaped but not walked, which is no longer so: " + string.Join(", ", stale));
    }

    /// <summary>The classifier search of CAM and Grad-CAM only looks through ops the walk and shape inference know.</summary>
    [Fact]
    public void The_cam_layer_search_uses_only_ops_the_other_places_know()
    {
        var cam = ClassifierStructure.TransparentOps.Concat(ClassifierStructure.CamPoolOps).Concat(ClassifierStructure.CamLinearOps).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(cam, op => !Walk.Contains(op));
        Assert.DoesNotContain(cam, op => !Shape.Contains(op));
        // CAM's own ops are differentiated too (Grad-CAM runs on the same models).
        Assert.DoesNotContain(ClassifierStructure.CamPoolOps.Concat(ClassifierStructure.CamLinearOps), op => !Backward.Contains(op));
        // Every reshaping op the walk has a rule for is transparent to the search.
        Assert.DoesNotContain(new[] { "Flatten", "Reshape", "Squeeze", "Unsqueeze" }, op => !ClassifierStructure.TransparentOps.Contains(op));
    }

    /// <summary>An op that no place knows is reported by the walk and the backward passes, and gets no shape.</summary>
    [Fact]
    public void An_op_nobody_knows_is_refused_everywhere()
    {
        const string op = "Hardmax";
        Assert.DoesNotContain(op, Walk);
        Assert.DoesNotContain(op, Shape);
        Assert.DoesNotContain(op, Backward);
    }
}
