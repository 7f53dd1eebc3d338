using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// What a rule sees while it distributes the weight of one node's output onto its inputs in the
/// weighted walk (<see cref="WeightedWalk"/>): the node, the output's weights, the forward values and
/// constants, and the input weight buffers to add into.
/// </summary>
public sealed class WeightedStep
{
    private readonly WeightedWalk _walk;

    internal WeightedStep(WeightedWalk walk, GraphNode node, float[] output, int[] outputShape)
    {
        _walk = walk;
        Node = node;
        Output = output;
        OutputShape = outputShape;
    }

    public GraphNode Node { get; }

    /// <summary>The weight of every neuron of the node's (first) output, row-major; non-negative.</summary>
    public float[] Output { get; }

    public int[] OutputShape { get; }
    public OnnxModel Model => _walk.Model;
    public UnravelOptions Options => _walk.Options;

    /// <summary>Threads a rule may use (0: every core); results never depend on it.</summary>
    public int Threads => _walk.Threads;

    public TensorValue Activation(string tensor) => _walk.Activation(tensor, Node);
    public TensorValue Input(int i) => Activation(Node.Inputs[i]);
    public int[] Shape(string tensor) => _walk.Shape(tensor, Node);
    public ConstTensor Constant(string tensor) => _walk.Constant(tensor, Node);

    /// <summary>The weight buffer of input <paramref name="i"/> (zeroed when first asked for); rules add into it.</summary>
    public float[] InputWeights(int i) => _walk.WeightsOf(Node.Inputs[i], Node);

    /// <summary>
    /// Adds the output's weights to input <paramref name="i"/> (flat index to flat index, or onto a broadcast input).
    /// When the input has the output's size and no weights yet, and the walk reuses buffers, the output's buffer
    /// becomes the input's (0 + w = w: the weights are never -0), so nothing is copied; the output's weights are not read again.
    /// </summary>
    public void PassThrough(int i)
    {
        var inShape = Shape(Node.Inputs[i]);
        if (Shapes.ElementCount(inShape) == Output.Length && _walk.Adopt(Node.Inputs[i], Output)) return;
        PositiveShares.Through(Output, OutputShape, InputWeights(i), inShape);
    }

    public UnsupportedOperatorException Unsupported(string why) => new($"{Node.Describe()}: {why}");
}
