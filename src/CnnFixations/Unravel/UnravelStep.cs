using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>What a rule sees while it unravels one node: the node, its output fixations, the activations and constants, and where to send fixations.</summary>
public sealed class UnravelStep
{
    private readonly UnravelWalk _walk;
    private readonly FixationSet?[] _inputSets;

    internal UnravelStep(UnravelWalk walk, GraphNode node, FixationSet output)
    {
        _walk = walk;
        Node = node;
        Output = output;
        _inputSets = new FixationSet?[node.Inputs.Count];
    }

    public GraphNode Node { get; }
    public FixationSet Output { get; }
    public OnnxModel Model => _walk.Model;
    public UnravelOptions Options => _walk.Options;

    /// <summary>Threads a rule may use for its neurons (0: every core); results never depend on it.</summary>
    public int Threads => _walk.Threads;

    /// <summary>The forward-pass value of a tensor (or of the network input).</summary>
    public TensorValue Activation(string tensor) => _walk.Activation(tensor, Node);

    public TensorValue Input(int i) => Activation(Node.Inputs[i]);

    public int[] Shape(string tensor) => _walk.Shape(tensor, Node);

    public ConstTensor Constant(string tensor) => _walk.Constant(tensor, Node);

    /// <summary>Adds neuron <paramref name="flatIndex"/> of input <paramref name="input"/> to that tensor's fixations.</summary>
    public void Send(int input, int flatIndex) => (_inputSets[input] ??= _walk.SetOf(Node.Inputs[input])).Add(flatIndex);

    /// <summary>Adds every neuron of the output's set, by flat index, to input <paramref name="input"/> (of the same size).</summary>
    public void SendSameIndices(int input) => (_inputSets[input] ??= _walk.SetOf(Node.Inputs[input])).UnionWith(Output);

    public UnsupportedOperatorException Unsupported(string why) =>
        new($"{Node.Describe()}: {why}");
}
