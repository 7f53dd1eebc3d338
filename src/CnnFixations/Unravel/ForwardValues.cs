using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// What a walk reads of one forward pass: fetched activations, constants of the model, and static shapes of
/// tensors whose values were not fetched. Shared by <see cref="UnravelWalk"/> and <see cref="WeightedWalk"/>.
/// </summary>
internal sealed class ForwardValues(OnnxModel model, IReadOnlyDictionary<string, TensorValue> activations, IReadOnlyDictionary<string, int[]>? shapes)
{
    public IReadOnlyDictionary<string, TensorValue> Activations => activations;

    public TensorValue Activation(string tensor, GraphNode? node)
    {
        if (activations.TryGetValue(tensor, out var value)) return value;
        if (model.TryGetConstant(tensor) is { } c) return c.ToTensorValue();
        throw new InvalidOperationException($"activation '{tensor}' was not fetched{(node == null ? "" : " for " + node.Describe())}");
    }

    public int[] Shape(string tensor, GraphNode? node)
    {
        if (activations.TryGetValue(tensor, out var value)) return value.Shape;
        if (shapes != null && shapes.TryGetValue(tensor, out var shape)) return shape;
        return Activation(tensor, node).Shape;
    }

    /// <summary>The shape of a tensor when it is known without computing anything (null otherwise).</summary>
    public int[]? KnownShape(string tensor) =>
        activations.TryGetValue(tensor, out var v) ? v.Shape : shapes != null && shapes.TryGetValue(tensor, out var s) ? s : model.TryGetConstant(tensor)?.Shape;

    public ConstTensor Constant(string tensor, GraphNode node) =>
        model.TryGetConstant(tensor) ?? throw new CnnFixationsException($"{node.Describe()}: the value of constant '{tensor}' is not available");
}
