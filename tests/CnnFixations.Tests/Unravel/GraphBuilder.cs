using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Tests.Unravel;

/// <summary>Builds small ONNX graphs by hand for rule tests.</summary>
internal sealed class GraphBuilder
{
    private readonly ModelProto _model = new() { IrVersion = 7, Graph = new GraphProto { Name = "test" } };

    public GraphBuilder(string input = "x", params long[] shape)
    {
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var dims = new TensorShapeProto();
        foreach (var d in shape) dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        _model.Graph.Input.Add(new ValueInfoProto
        {
            Name = input,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = dims } },
        });
    }

    public GraphBuilder Initializer(string name, int[] shape, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.FloatData.AddRange(values);
        _model.Graph.Initializer.Add(t);
        return this;
    }

    public GraphBuilder Int64Initializer(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = 7 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _model.Graph.Initializer.Add(t);
        return this;
    }

    public GraphBuilder Node(string op, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes) =>
        Node(op, "", inputs, outputs, attributes);

    public GraphBuilder Node(string op, string domain, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var n = new NodeProto { OpType = op, Domain = domain, Name = op.ToLowerInvariant() + _model.Graph.Node.Count };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        foreach (var (name, value) in attributes)
        {
            var a = new AttributeProto { Name = name };
            switch (value)
            {
                case long l: a.I = l; a.Type = AttributeProto.Types.AttributeType.Int; break;
                case int i: a.I = i; a.Type = AttributeProto.Types.AttributeType.Int; break;
                case float f: a.F = f; a.Type = AttributeProto.Types.AttributeType.Float; break;
                case long[] ls: a.Ints.AddRange(ls); a.Type = AttributeProto.Types.AttributeType.Ints; break;
                case int[] iss: a.Ints.AddRange(iss.Select(v => (long)v)); a.Type = AttributeProto.Types.AttributeType.Ints; break;
                case string s: a.S = ByteString.CopyFromUtf8(s); a.Type = AttributeProto.Types.AttributeType.String; break;
                default: throw new ArgumentException(value.GetType().Name);
            }
            n.Attribute.Add(a);
        }
        _model.Graph.Node.Add(n);
        return this;
    }

    public GraphBuilder Output(string name)
    {
        _model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        return this;
    }

    public byte[] Bytes() => _model.ToByteArray();

    public OnnxModel Build() => OnnxModel.FromBytes(Bytes());
}
