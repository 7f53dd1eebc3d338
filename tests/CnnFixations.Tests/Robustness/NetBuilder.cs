using CnnFixations.Onnx.Proto;
using CnnFixations.Tests.Unravel;
using Google.Protobuf;

namespace CnnFixations.Tests.Robustness;

/// <summary>
/// Builds small classifiers layer by layer on top of <see cref="GraphBuilder"/>, keeping track of the
/// current tensor and its [1,C,H,W] shape, with seeded-random weights. The result can be edited as a
/// <see cref="ModelProto"/> (declared shapes, dynamic dimensions, external data) before it is saved.
/// </summary>
internal sealed class NetBuilder
{
    private readonly GraphBuilder _graph;
    private readonly Random _random;
    private int _count;

    public NetBuilder(int channels, int height, int width, int seed = 1)
    {
        _graph = new GraphBuilder("x", 1, channels, height, width);
        _random = new Random(seed);
        Current = "x";
        C = channels;
        H = height;
        W = width;
    }

    /// <summary>The tensor the next layer reads, and its shape: [1,C,H,W] for maps, [1,C] after Flatten.</summary>
    public string Current { get; private set; }
    public int C { get; private set; }
    public int H { get; private set; }
    public int W { get; private set; }
    public bool Flat { get; private set; }

    private string Next(string prefix) => $"{prefix}{_count++}";

    private float[] RandomValues(int count, double scale)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)((_random.NextDouble() * 2 - 1) * scale);
        return v;
    }

    /// <summary>The output size of a window op; 0 or less when the window does not fit at all.</summary>
    public static int OutSize(int size, int kernel, int stride, int pad, int dilation = 1)
    {
        int span = size + 2 * pad - dilation * (kernel - 1) - 1;
        return span < 0 ? 0 : span / stride + 1;
    }

    public NetBuilder Conv(int outChannels, int kernel, int stride = 1, int pad = 0, int group = 1, int dilation = 1, float[]? weights = null)
    {
        string w = Next("w"), b = Next("b"), y = Next("conv");
        int count = outChannels * (C / group) * kernel * kernel;
        _graph.Initializer(w, new[] { outChannels, C / group, kernel, kernel }, weights ?? RandomValues(count, 1.0 / Math.Sqrt(count / outChannels)));
        _graph.Initializer(b, new[] { outChannels }, RandomValues(outChannels, 0.1));
        _graph.Node("Conv", new[] { Current, w, b }, new[] { y },
            ("kernel_shape", new[] { kernel, kernel }), ("strides", new[] { stride, stride }), ("pads", new[] { pad, pad, pad, pad }),
            ("group", group), ("dilations", new[] { dilation, dilation }));
        Current = y;
        C = outChannels;
        H = OutSize(H, kernel, stride, pad, dilation);
        W = OutSize(W, kernel, stride, pad, dilation);
        return this;
    }

    /// <summary>An element-wise op with one input (Relu, Sigmoid, or an op the walk does not know).</summary>
    public NetBuilder Unary(string op, string domain = "")
    {
        string y = Next(op.ToLowerInvariant());
        _graph.Node(op, domain, new[] { Current }, new[] { y });
        Current = y;
        return this;
    }

    public NetBuilder Relu() => Unary("Relu");

    public NetBuilder Pool(string op, int kernel, int stride, int pad = 0)
    {
        string y = Next(op.ToLowerInvariant());
        _graph.Node(op, new[] { Current }, new[] { y },
            ("kernel_shape", new[] { kernel, kernel }), ("strides", new[] { stride, stride }), ("pads", new[] { pad, pad, pad, pad }));
        Current = y;
        H = OutSize(H, kernel, stride, pad);
        W = OutSize(W, kernel, stride, pad);
        return this;
    }

    /// <summary>Two 3x3 same-size conv branches from the current tensor, joined by Concat (channels add up) or Add.</summary>
    public NetBuilder Branches(string join, int channelsA, int channelsB)
    {
        string start = Current;
        int c = C;
        Conv(channelsA, 3, pad: 1);
        string a = Current;
        Current = start;
        C = c;
        Conv(join == "Add" ? channelsA : channelsB, 3, pad: 1);
        string b = Current;
        string y = Next(join.ToLowerInvariant());
        if (join == "Concat") _graph.Node("Concat", new[] { a, b }, new[] { y }, ("axis", 1));
        else _graph.Node(join, new[] { a, b }, new[] { y });
        Current = y;
        C = join == "Concat" ? channelsA + channelsB : channelsA;
        return this;
    }

    public NetBuilder GlobalAveragePool()
    {
        string y = Next("gap");
        _graph.Node("GlobalAveragePool", new[] { Current }, new[] { y });
        Current = y;
        H = W = 1;
        return this;
    }

    public NetBuilder Flatten()
    {
        string y = Next("flat");
        _graph.Node("Flatten", new[] { Current }, new[] { y }, ("axis", 1));
        Current = y;
        C = C * H * W;
        H = W = 1;
        Flat = true;
        return this;
    }

    public NetBuilder Gemm(int classes, float[]? weights = null)
    {
        string w = Next("fcw"), b = Next("fcb"), y = Next("gemm");
        _graph.Initializer(w, new[] { classes, C }, weights ?? RandomValues(classes * C, 1.0 / Math.Sqrt(C)));
        _graph.Initializer(b, new[] { classes }, RandomValues(classes, 0.1));
        _graph.Node("Gemm", new[] { Current, w, b }, new[] { y }, ("transB", 1));
        Current = y;
        C = classes;
        return this;
    }

    /// <summary>Marks the current tensor as a graph output (its name is returned) and keeps building from it.</summary>
    public string MarkOutput()
    {
        _graph.Output(Current);
        return Current;
    }

    /// <summary>GlobalAveragePool, Flatten, Gemm to <paramref name="classes"/> logits, marked as the output.</summary>
    public NetBuilder Head(int classes)
    {
        if (!Flat) { GlobalAveragePool(); Flatten(); }
        Gemm(classes);
        MarkOutput();
        return this;
    }

    public ModelProto Proto() => ModelProto.Parser.ParseFrom(_graph.Bytes());

    public byte[] Bytes() => _graph.Bytes();

    public string Save(string dir, string name) => Save(Proto(), dir, name);

    public static string Save(ModelProto proto, string dir, string name)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    /// <summary>Sets a graph output's declared shape (-1: a named, not fixed dimension).</summary>
    public static void DeclareOutputShape(ModelProto proto, string output, params long[] dims)
    {
        var o = proto.Graph.Output.Single(v => v.Name == output);
        o.Type.TensorType.Shape = Dims(dims);
    }

    /// <summary>Replaces the input's dimensions (-1: a named dimension such as "height").</summary>
    public static void SetInputShape(ModelProto proto, params long[] dims) =>
        proto.Graph.Input[0].Type.TensorType.Shape = Dims(dims);

    private static TensorShapeProto Dims(long[] dims)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < dims.Length; i++)
        {
            shape.Dim.Add(dims[i] >= 0
                ? new TensorShapeProto.Types.Dimension { DimValue = dims[i] }
                : new TensorShapeProto.Types.Dimension { DimParam = $"d{i}" });
        }
        return shape;
    }
}
