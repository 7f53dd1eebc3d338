namespace CnnFixations.Onnx;

/// <summary>One node of the ONNX graph.</summary>
public sealed class GraphNode
{
    internal GraphNode(int index, string opType, string domain, string name, string[] inputs, string[] outputs, NodeAttributes attributes)
    {
        Index = index;
        OpType = opType;
        Domain = domain;
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    /// <summary>Position in the topological order used by the walk.</summary>
    public int Index { get; }
    public string OpType { get; }
    /// <summary>Operator domain; empty for the default ONNX domain (ai.onnx).</summary>
    public string Domain { get; }
    public string Name { get; }
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }
    public NodeAttributes Attributes { get; }

    public bool IsDefaultDomain => Domain.Length == 0 || Domain == "ai.onnx";

    /// <summary>The input at <paramref name="i"/>, or null when absent or empty (an omitted optional input).</summary>
    public string? InputOrNull(int i) => i < Inputs.Count && Inputs[i].Length > 0 ? Inputs[i] : null;

    public string Describe()
    {
        string op = IsDefaultDomain ? OpType : $"{Domain}.{OpType}";
        string name = Name.Length > 0 ? Name : $"#{Index} (output '{(Outputs.Count > 0 ? Outputs[0] : "")}')";
        return $"{op} node '{name}'";
    }

    public override string ToString() => Describe();
}
