using CnnFixations.Onnx.Proto;

namespace CnnFixations.Onnx;

/// <summary>The order of a 4-D image input's axes.</summary>
public enum InputLayout
{
    /// <summary>Channel first: [N,C,H,W] (PyTorch, Caffe).</summary>
    Nchw,
    /// <summary>Channel last: [N,H,W,C] (TensorFlow, TFLite, Keras).</summary>
    Nhwc,
}

/// <summary>
/// A model made ready for images: its input as a float32 [N,C,H,W] tensor. A channel-last input gets a
/// Transpose in front of it and a non-float input (uint8, TFLite style) a Cast, both inside the graph, so
/// that everything else (the forward pass, the walk, the maps, the baselines) sees one channel-first float
/// input; the walk maps the fixations through the added nodes like any others.
/// </summary>
public sealed record AdaptedModel(OnnxModel Model, OnnxModel Original, InputLayout Layout, string LayoutReason, string InputElementType)
{
    /// <summary>True when the model's own input takes 8-bit pixel values (uint8): the image then gets the raw 0..255 values.</summary>
    public bool TakesRawBytes => InputElementType is "uint8";

    /// <summary>The channel count of the (channel-first) input; -1 when not declared.</summary>
    public int Channels => Model.InputShape.Length == 4 ? Model.InputShape[1] : -1;
}

public static class InputAdapter
{

    /// <summary>Parses <c>nchw</c> or <c>nhwc</c> (any case).</summary>
    public static InputLayout ParseLayout(string text) => text.Trim().ToLowerInvariant() switch
    {
        "nchw" => InputLayout.Nchw,
        "nhwc" => InputLayout.Nhwc,
        _ => throw new CnnFixationsException($"unknown layout '{text}': expected nchw or nhwc"),
    };

    /// <summary>
    /// The layout of the model's input: <paramref name="forced"/> when given; else the metadata
    /// (<c>layout</c>/<c>data_format</c>: NHWC, NCHW, channels_last, channels_first); else channel-last when the input
    /// is 4-D, its last dimension is 1, 3 or 4, and it feeds a Transpose to channel-first; else channel-first.
    /// </summary>
    public static (InputLayout Layout, string Reason) DetectLayout(OnnxModel model, InputLayout? forced = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var s = model.InputShape;
        if (forced is { } f)
        {
            if (s.Length != 4) throw new CnnFixationsException($"--layout {f.ToString().ToLowerInvariant()}: the model's input '{model.InputName}' is {Shapes.Format(s)}, not 4-D");
            return (f, "--layout");
        }
        foreach (var key in new[] { "layout", "data_format", "input_layout" })
        {
            if (!model.Metadata.TryGetValue(key, out var value)) continue;
            string v = value.Trim().ToLowerInvariant();
            if (v is "nhwc" or "channels_last") return (InputLayout.Nhwc, $"metadata {key}={value}");
            if (v is "nchw" or "channels_first") return (InputLayout.Nchw, $"metadata {key}={value}");
            throw new CnnFixationsException($"the model's metadata {key} '{value}' is not NCHW, NHWC, channels_first or channels_last");
        }
        if (s.Length == 4 && s[3] is 1 or 3 or 4 && FeedsChannelFirstTranspose(model) is { } node)
            return (InputLayout.Nhwc, $"last dimension {s[3]} and the input feeds {node.Describe()} (perm 0,3,1,2)");
        return (InputLayout.Nchw, s.Length == 4 ? "default: no Transpose to channel-first at the input, no layout metadata" : "not a 4-D input");
    }

    /// <summary>The Transpose(perm 0,3,1,2) that the input reaches through Cast/Identity, if any.</summary>
    private static GraphNode? FeedsChannelFirstTranspose(OnnxModel model)
    {
        string t = model.InputName;
        for (int hop = 0; hop < 6; hop++)
        {
            var consumers = model.Consumers(t);
            foreach (var (node, _) in consumers)
                if (node.IsDefaultDomain && node.OpType == "Transpose" && node.Attributes.GetInts("perm") is [0, 3, 1, 2])
                    return node;
            if (consumers.Count != 1 || !KeepsLayout(model, consumers[0].Node, consumers[0].Input)) return null;
            t = consumers[0].Node.Outputs[0];
        }
        return null;
    }

    /// <summary>Cast, Identity, and Sub/Div/Mul/Add by a scalar constant (input normalization) keep the input's axis order.</summary>
    private static bool KeepsLayout(OnnxModel model, GraphNode node, int slot)
    {
        if (!node.IsDefaultDomain) return false;
        if (node.OpType is "Cast" or "Identity") return true;
        if (node.OpType is not ("Sub" or "Div" or "Mul" or "Add") || node.Inputs.Count != 2) return false;
        string other = node.Inputs[1 - slot];
        return model.IsConstant(other) && model.ConstantShape(other) is { } shape && Shapes.ElementCount(shape) == 1;
    }

    /// <summary>The model with a float32 channel-first input (the model itself when it has one already).</summary>
    public static AdaptedModel Adapt(OnnxModel model, InputLayout? forced = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.InputAdapted) return new AdaptedModel(model, model, InputLayout.Nchw, "already given a float32 channel-first input", "float");
        var (layout, reason) = DetectLayout(model, forced);
        var type = model.InputElementType;
        string typeName = type.ToString().ToLowerInvariant();
        bool cast = type != TensorProto.Types.DataType.Float;
        if (cast && type != TensorProto.Types.DataType.Uint8)
            throw new CnnFixationsException($"the model's input '{model.InputName}' has element type {typeName}; float32 and uint8 image inputs are supported");
        if (layout == InputLayout.Nchw && !cast) return new AdaptedModel(model, model, layout, reason, typeName);

        var proto = model.Proto.Clone();
        var graph = proto.Graph;
        string name = model.InputName;
        string original = Unique(model, name + "__model_input");
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == name) node.Input[i] = original;
        foreach (var o in graph.Output) if (o.Name == name) o.Name = original;
        foreach (var v in graph.ValueInfo) if (v.Name == name) v.Name = original;

        var input = graph.Input.First(i => i.Name == name);
        var tensorType = input.Type.TensorType;
        tensorType.ElemType = (int)TensorProto.Types.DataType.Float;
        if (layout == InputLayout.Nhwc && tensorType.Shape is { Dim.Count: 4 } shape)
        {
            var dims = shape.Dim.ToArray();
            shape.Dim.Clear();
            shape.Dim.Add(new[] { dims[0], dims[3], dims[1], dims[2] });
        }

        var added = new List<NodeProto>();
        string current = name;
        if (layout == InputLayout.Nhwc)
        {
            string next = cast ? Unique(model, name + "__nhwc") : original;
            var transpose = new NodeProto { OpType = "Transpose", Name = Unique(model, name + "__to_nhwc"), Input = { current }, Output = { next } };
            transpose.Attribute.Add(new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 2, 3, 1 } });
            added.Add(transpose);
            current = next;
        }
        if (cast)
        {
            var node = new NodeProto { OpType = "Cast", Name = Unique(model, name + "__to_" + typeName), Input = { current }, Output = { original } };
            node.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)type });
            added.Add(node);
        }
        for (int i = added.Count - 1; i >= 0; i--) graph.Node.Insert(0, added[i]);
        return new AdaptedModel(model.WithProto(proto), model, layout, reason, typeName);
    }

    private static string Unique(OnnxModel model, string name)
    {
        string candidate = name;
        for (int i = 1; model.IsKnownTensor(candidate) || model.Nodes.Any(n => n.Name == candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    /// <summary>
    /// Normalization built into the graph right at the input: an ImageScaler, or Sub/Div/Mul/Add by a constant,
    /// reached from the input through Transpose/Cast/Identity. Returns the node's description, or null.
    /// </summary>
    public static string? InGraphNormalization(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string t = model.InputName;
        for (int hop = 0; hop < 6; hop++)
        {
            var consumers = model.Consumers(t);
            if (consumers.Count != 1) return null;
            var node = consumers[0].Node;
            if (!node.IsDefaultDomain) return null;
            switch (node.OpType)
            {
                case "ImageScaler":
                    return node.Describe();
                case "Sub" or "Div" or "Mul" or "Add":
                    var other = node.Inputs.Where((x, i) => i != consumers[0].Input && x.Length > 0).ToList();
                    return other.Count == 1 && model.IsConstant(other[0]) ? $"{node.Describe()} by a constant" : null;
                case "Transpose" or "Cast" or "Identity":
                    t = node.Outputs[0];
                    continue;
                default:
                    return null;
            }
        }
        return null;
    }
}
