using System.Runtime.InteropServices;
using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Baselines;

/// <summary>
/// Writes new nodes into a graph fragment: unique tensor names under one prefix, constants as
/// Constant nodes (valid at every IR version, unlike initializers without a graph input).
/// </summary>
internal sealed class GraphEmitter
{
    private readonly string _prefix;
    private readonly Dictionary<float, string> _scalars = new();
    private int _count;

    public GraphEmitter(string prefix) => _prefix = prefix;

    public GraphProto Graph { get; } = new();

    public string NewName(string hint) => $"{_prefix}{_count++}_{hint}";

    /// <summary>Adds a node with one new output and returns the output's name.</summary>
    public string Node(string op, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeWithOutputs(op, inputs, new[] { NewName(op) }, attributes)[0];

    /// <summary>Adds a node writing the given outputs (empty names are omitted optional outputs).</summary>
    public string[] NodeWithOutputs(string op, IEnumerable<string> inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = NewName(op + "_node") };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outputs;
    }

    /// <summary>A float32 constant.</summary>
    public string Floats(float[] values, int[] shape)
    {
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(shape.Select(d => (long)d));
        return Constant(t, "f");
    }

    /// <summary>
    /// A float32 constant of <paramref name="shape"/> whose values <paramref name="fill"/> writes into a fresh buffer that
    /// becomes the tensor's data as it is (no copy: large weights are written once).
    /// </summary>
    public string Floats(int[] shape, FloatFill fill)
    {
        long count = 1;
        foreach (int d in shape) count *= d;
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)(count * sizeof(float))));
        fill(MemoryMarshal.Cast<byte, float>(bytes.AsSpan()));
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, RawData = UnsafeByteOperations.UnsafeWrap(bytes) };
        t.Dims.AddRange(shape.Select(d => (long)d));
        return Constant(t, "f");
    }

    /// <summary>The declaration of a float32 graph input or output of a fixed shape.</summary>
    public static ValueInfoProto FloatValueInfo(string name, int[] shape)
    {
        var dims = new TensorShapeProto();
        foreach (int d in shape) dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = dims } },
        };
    }

    /// <summary>An int64 constant.</summary>
    public string Int64s(long[] values, int[] shape)
    {
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(shape.Select(d => (long)d));
        return Constant(t, "i");
    }

    /// <summary>A 1-D int64 constant (shapes, axes, slice bounds).</summary>
    public string Int64s(params long[] values) => Int64s(values, new[] { values.Length });

    /// <summary>A float32 scalar (rank 0), shared between uses.</summary>
    public string Scalar(float value)
    {
        if (!_scalars.TryGetValue(value, out var name)) _scalars[value] = name = Floats(new[] { value }, Array.Empty<int>());
        return name;
    }

    private string Constant(TensorProto value, string hint)
    {
        string name = NewName("const_" + hint);
        NodeWithOutputs("Constant", Array.Empty<string>(), new[] { name }, Attr.Tensor("value", value));
        return name;
    }
}

/// <summary>
/// The parts sent to each tensor of a backward-running graph by its consumers (gradients, walk weights), summed when
/// the tensor's producer is reached; <see cref="Order"/> lists the tensors in the order they first received one.
/// </summary>
internal sealed class PartSums(GraphEmitter emitter, bool pairwise)
{
    private readonly Dictionary<string, List<string>> _parts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _totals = new(StringComparer.Ordinal);

    public List<string> Order { get; } = new();

    public bool Has(string tensor) => _parts.ContainsKey(tensor);

    public void Add(string tensor, string part)
    {
        if (_totals.ContainsKey(tensor)) throw new InvalidOperationException($"a part for '{tensor}' arrived after it was summed");
        if (!_parts.TryGetValue(tensor, out var list)) { _parts[tensor] = list = new List<string>(); Order.Add(tensor); }
        list.Add(part);
    }

    /// <summary>The sum of the parts: one Sum node, or with <c>pairwise</c> a chain of Adds (ONNX Runtime broadcasts those faster).</summary>
    public string Total(string tensor)
    {
        if (_totals.TryGetValue(tensor, out var total)) return total;
        var parts = _parts[tensor];
        if (parts.Count == 1 || !pairwise) total = parts.Count == 1 ? parts[0] : emitter.Node("Sum", parts);
        else
        {
            total = parts[0];
            for (int i = 1; i < parts.Count; i++) total = emitter.Node("Add", new[] { total, parts[i] });
        }
        _totals[tensor] = total;
        return total;
    }
}

/// <summary>Writes a constant's values (see <see cref="GraphEmitter.Floats(int[], FloatFill)"/>).</summary>
internal delegate void FloatFill(Span<float> destination);

/// <summary>Attribute values for generated nodes.</summary>
internal static class Attr
{
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
}
