using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Fuzz;

/// <summary>
/// Small ONNX models written as extra seeds for the onnx target, so that the fuzzer starts from every
/// form of constant the reader folds (Transpose, Reshape, Flatten, Squeeze/Unsqueeze, DequantizeLinear,
/// Cast, Constant nodes), every way a tensor stores its values (typed fields, raw data, float16, external
/// data) and the classifier-head cases (Softmax, several outputs). The tiny fixtures add real topologies.
/// </summary>
internal static class Seeds
{
    public static void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        Save(dir, "folded_weights.onnx", FoldedWeights());
        Save(dir, "quantized.onnx", Quantized());
        Save(dir, "shapes.onnx", ShapeOps());
        Save(dir, "storage.onnx", Storage(external: false));
        Save(dir, "external.onnx", Storage(external: true));
        Save(dir, "heads.onnx", Heads());
    }

    private static void Save(string dir, string name, ModelProto model) => File.WriteAllBytes(Path.Combine(dir, name), model.ToByteArray());

    private static ModelProto Model(int channels = 3, int size = 8)
    {
        var m = new ModelProto { IrVersion = 7, Graph = new GraphProto { Name = "seed" } };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var shape = new TensorShapeProto();
        foreach (long d in new long[] { 1, channels, size, size }) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        m.Graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } });
        return m;
    }

    private static TensorProto Floats(string name, int[] dims, int seed)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims.Select(d => (long)d));
        int n = dims.Aggregate(1, (a, b) => a * b);
        for (int i = 0; i < n; i++) t.FloatData.Add(((i * 37 + seed * 11) % 17 - 8) / 8f);
        return t;
    }

    private static TensorProto Int64s(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = outputs[0] + "_node" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static void Output(ModelProto m, string name, params long[] dims)
    {
        var type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } };
        if (dims.Length > 0)
        {
            type.TensorType.Shape = new TensorShapeProto();
            foreach (long d in dims) type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        m.Graph.Output.Add(new ValueInfoProto { Name = name, Type = type });
    }

    /// <summary>Conv weights stored transposed, then a pooled head: Transpose, Conv, Relu, MaxPool, GlobalAveragePool, Flatten, Gemm.</summary>
    private static ModelProto FoldedWeights()
    {
        var m = Model();
        var g = m.Graph;
        g.Initializer.Add(Floats("w_t", new[] { 3, 3, 4, 3 }, 1)); // [cin, kh, cout, kw]: perm 2,0,1,3 gives [cout, cin, kh, kw]
        g.Initializer.Add(Floats("fc", new[] { 4, 5 }, 2));
        g.Node.Add(Node("Transpose", new[] { "w_t" }, new[] { "w" }, Ints("perm", 2, 0, 1, 3)));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "c" }, Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1)));
        g.Node.Add(Node("Relu", new[] { "c" }, new[] { "r" }));
        g.Node.Add(Node("MaxPool", new[] { "r" }, new[] { "p" }, Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)));
        g.Node.Add(Node("GlobalAveragePool", new[] { "p" }, new[] { "gap" }));
        g.Node.Add(Node("Flatten", new[] { "gap" }, new[] { "f" }, Int("axis", 1)));
        g.Node.Add(Node("Gemm", new[] { "f", "fc" }, new[] { "logits" }));
        Output(m, "logits", 1, 5);
        return m;
    }

    /// <summary>int8 weights behind a per-channel DequantizeLinear, a Cast, and a MatMul head.</summary>
    private static ModelProto Quantized()
    {
        var m = Model();
        var g = m.Graph;
        var q = new TensorProto { Name = "wq", DataType = (int)TensorProto.Types.DataType.Int8 };
        q.Dims.AddRange(new long[] { 2, 3, 1, 1 });
        q.RawData = ByteString.CopyFrom(new byte[] { 1, 255, 3, 4, 128, 127 });
        g.Initializer.Add(q);
        g.Initializer.Add(Floats("scale", new[] { 2 }, 3));
        var zp = new TensorProto { Name = "zp", DataType = (int)TensorProto.Types.DataType.Int8 };
        zp.Dims.Add(2);
        zp.Int32Data.AddRange(new[] { 0, -1 });
        g.Initializer.Add(zp);
        g.Initializer.Add(Floats("mw", new[] { 2, 3 }, 4));
        g.Node.Add(Node("DequantizeLinear", new[] { "wq", "scale", "zp" }, new[] { "w" }, Int("axis", 0)));
        g.Node.Add(Node("Cast", new[] { "w" }, new[] { "wf" }, Int("to", 1)));
        g.Node.Add(Node("Conv", new[] { "x", "wf" }, new[] { "c" }, Ints("kernel_shape", 1, 1)));
        g.Node.Add(Node("GlobalMaxPool", new[] { "c" }, new[] { "gmp" }));
        g.Node.Add(Node("Reshape", new[] { "gmp", "shape" }, new[] { "row" }));
        g.Initializer.Add(Int64s("shape", 1, -1));
        g.Node.Add(Node("MatMul", new[] { "row", "mw" }, new[] { "logits" }));
        Output(m, "logits", 1, 3);
        return m;
    }

    /// <summary>Constant nodes and shape ops folded on constants: Reshape with 0 and -1, Squeeze/Unsqueeze by input and attribute, Flatten.</summary>
    private static ModelProto ShapeOps()
    {
        var m = Model(channels: 2, size: 4);
        m.OpsetImport[0].Version = 11;
        var g = m.Graph;
        var value = new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("", new[] { 6, 2 }, 5) };
        g.Node.Add(Node("Constant", Array.Empty<string>(), new[] { "k" }, value));
        g.Node.Add(Node("Constant", Array.Empty<string>(), new[] { "target" }, Ints("value_ints", 3, 0, -1)));
        g.Node.Add(Node("Reshape", new[] { "k", "target" }, new[] { "k3" }));
        g.Node.Add(Node("Unsqueeze", new[] { "k3" }, new[] { "k4" }, Ints("axes", 3)));
        g.Node.Add(Node("Squeeze", new[] { "k4" }, new[] { "k5" }, Ints("axes", -1)));
        g.Node.Add(Node("Flatten", new[] { "k5" }, new[] { "kf" }, Int("axis", -1)));
        g.Node.Add(Node("Reshape", new[] { "kf", "w_shape" }, new[] { "w" }, Int("allowzero", 0)));
        g.Initializer.Add(Int64s("w_shape", 3, 2, 2, 1));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "c" }, Ints("kernel_shape", 2, 1), Ints("strides", 2, 1), new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("SAME_UPPER") }));
        g.Node.Add(Node("ReduceMean", new[] { "c" }, new[] { "m" }, Ints("axes", 2, 3), Int("keepdims", 0)));
        g.Node.Add(Node("Constant", Array.Empty<string>(), new[] { "bias" }, new AttributeProto { Name = "value_float", Type = AttributeProto.Types.AttributeType.Float, F = 0.5f }));
        g.Node.Add(Node("Add", new[] { "m", "bias" }, new[] { "logits" }));
        Output(m, "logits", 1, 3);
        return m;
    }

    /// <summary>Values stored every way: raw float, double, float16 in int32_data, and (optionally) an external data reference.</summary>
    private static ModelProto Storage(bool external)
    {
        var m = Model(channels: 1, size: 4);
        var g = m.Graph;
        var raw = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float };
        raw.Dims.AddRange(new long[] { 2, 1, 1, 1 });
        raw.RawData = ByteString.CopyFrom(BitConverter.GetBytes(0.5f).Concat(BitConverter.GetBytes(-2f)).ToArray());
        g.Initializer.Add(raw);
        var dbl = new TensorProto { Name = "b", DataType = (int)TensorProto.Types.DataType.Double };
        dbl.Dims.Add(2);
        dbl.DoubleData.AddRange(new[] { 0.25, -0.25 });
        g.Initializer.Add(dbl);
        var half = new TensorProto { Name = "h", DataType = (int)TensorProto.Types.DataType.Float16 };
        half.Dims.AddRange(new long[] { 2, 2 });
        half.Int32Data.AddRange(new[] { 0x3C00, 0xBC00, 0x3800, 0x7E00 });
        g.Initializer.Add(half);
        var bias = new TensorProto { Name = "e", DataType = (int)TensorProto.Types.DataType.Float };
        bias.Dims.Add(2);
        bias.RawData = ByteString.CopyFrom(new byte[8]);
        g.Initializer.Add(bias);
        if (external)
        {
            // The same bias stored in a file beside the model (which a model read from memory cannot have).
            bias.RawData = ByteString.Empty;
            bias.DataLocation = TensorProto.Types.DataLocation.External;
            bias.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            bias.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
            bias.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "8" });
        }
        g.Node.Add(Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, Ints("kernel_shape", 1, 1)));
        g.Node.Add(Node("GlobalAveragePool", new[] { "c" }, new[] { "gap" }));
        g.Node.Add(Node("Flatten", new[] { "gap" }, new[] { "f" }));
        g.Node.Add(Node("Gemm", new[] { "f", "h", "e" }, new[] { "logits" }, Int("transB", 1)));
        Output(m, "logits", 1, 2);
        return m;
    }

    /// <summary>A Softmax output beside its logits, and a feature-map output: the head is found by shape.</summary>
    private static ModelProto Heads()
    {
        var m = Model(channels: 3, size: 4);
        var g = m.Graph;
        g.Initializer.Add(Floats("w", new[] { 4, 3, 3, 3 }, 6));
        g.Initializer.Add(Floats("fc", new[] { 3, 4 }, 7));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "features" }, Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1), Int("group", 1), Ints("dilations", 1, 1)));
        g.Node.Add(Node("AveragePool", new[] { "features" }, new[] { "p" }, Ints("kernel_shape", 4, 4), Int("ceil_mode", 1)));
        g.Node.Add(Node("Flatten", new[] { "p" }, new[] { "f" }));
        g.Node.Add(Node("Gemm", new[] { "f", "fc" }, new[] { "logits" }, Int("transB", 1)));
        g.Node.Add(Node("Softmax", new[] { "logits" }, new[] { "probs" }, Int("axis", 1)));
        Output(m, "features", 1, 4, 4, 4);
        Output(m, "logits", 1, 3);
        Output(m, "probs", 1, 3);
        return m;
    }
}
