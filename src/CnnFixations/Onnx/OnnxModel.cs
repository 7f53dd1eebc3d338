using System.Security.Cryptography;
using CnnFixations.Onnx.Proto;
using Google.Protobuf;

namespace CnnFixations.Onnx;

/// <summary>
/// A parsed ONNX model: its graph in topological order, which tensors are constants,
/// who produces and consumes each tensor, and its metadata. The file is read once.
/// </summary>
public sealed class OnnxModel
{
    private static readonly HashSet<string> NonDeterministicOps = new(StringComparer.Ordinal)
    {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    };

    /// <summary>Ops whose output depends only on the shape of their input, never on its values.</summary>
    private static readonly HashSet<string> ShapeOnlyOps = new(StringComparer.Ordinal) { "Shape", "Size" };

    private readonly Dictionary<string, GraphNode> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(GraphNode Node, int Input)>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int[]?> _outputShapes = new(StringComparer.Ordinal);
    private readonly ConstantFolder _folder;

    private readonly byte[] _bytes;

    private OnnxModel(ModelProto proto, byte[] bytes, string? path, Task<string> sha256, bool severalInputs = false)
    {
        Proto = proto;
        _bytes = bytes;
        Path = path;
        _sha256 = sha256;
        Directory = path == null ? null : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        var graph = proto.Graph ?? throw new CnnFixationsException("the model has no graph");

        foreach (var init in graph.Initializer) _initializers[init.Name] = init;
        // External data files are checked now (present, long enough), so that a missing one is named
        // before anything else reads the model; their bytes are read only when needed.
        foreach (var init in graph.Initializer)
            if (init.DataLocation == TensorProto.Types.DataLocation.External)
                TensorProtoReader.ResolveExternal(init, Directory);
        Metadata = proto.MetadataProps
            .GroupBy(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        OpsetVersion = proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();

        Nodes = SortTopologically(graph);
        foreach (var node in Nodes)
        {
            foreach (var o in node.Outputs)
                if (o.Length > 0 && !_producer.TryAdd(o, node))
                    throw new CnnFixationsException($"tensor '{o}' is produced by two nodes");
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                string t = node.Inputs[i];
                if (t.Length == 0) continue;
                if (!_consumers.TryGetValue(t, out var list)) _consumers[t] = list = new();
                list.Add((node, i));
            }
        }

        var realInputs = graph.Input.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
        if (realInputs.Count == 0 || (realInputs.Count > 1 && !severalInputs))
            throw new CnnFixationsException(realInputs.Count == 0
                ? "the model has no input tensor"
                : $"the model has {realInputs.Count} inputs ({string.Join(", ", realInputs.Select(i => i.Name))}); an image classifier with one input is needed");
        var input = realInputs[0];
        InputName = input.Name;
        var tensorType = input.Type?.TensorType;
        if (tensorType == null) throw new CnnFixationsException($"model input '{input.Name}' is not a tensor");
        InputElementType = (TensorProto.Types.DataType)tensorType.ElemType;
        InputShape = DeclaredShape(tensorType.Shape) ?? Array.Empty<int>();

        OutputNames = graph.Output.Select(o => o.Name).ToArray();
        foreach (var o in graph.Output)
        {
            _graphOutputs.Add(o.Name);
            _outputShapes.TryAdd(o.Name, DeclaredShape(o.Type?.TensorType?.Shape));
        }

        // Constants: initializers, Constant nodes, and nodes whose every input is constant.
        foreach (var name in _initializers.Keys) _constants.Add(name);
        foreach (var node in Nodes)
        {
            bool constant;
            if (node.OpType == "Constant" && node.IsDefaultDomain) constant = true;
            else if (ShapeOnlyOps.Contains(node.OpType) && node.IsDefaultDomain) constant = true;
            else if (NonDeterministicOps.Contains(node.OpType)) constant = false;
            else
            {
                var present = node.Inputs.Where(i => i.Length > 0).ToList();
                constant = present.Count > 0 && present.All(_constants.Contains);
            }
            if (constant) foreach (var o in node.Outputs) if (o.Length > 0) _constants.Add(o);
        }
        _folder = new ConstantFolder(this);
    }

    internal ModelProto Proto { get; }
    /// <summary>The file the model was read from, or null when it came from memory.</summary>
    public string? Path { get; }
    public string? Directory { get; }
    public string Sha256 => _sha256.GetAwaiter().GetResult();
    private readonly Task<string> _sha256;
    public long OpsetVersion { get; }
    public IReadOnlyList<GraphNode> Nodes { get; }
    public string InputName { get; }
    /// <summary>The input's declared shape; -1 for a dimension without a fixed size.</summary>
    public int[] InputShape { get; }
    internal TensorProto.Types.DataType InputElementType { get; }
    /// <summary>True for a model that <see cref="InputAdapter"/> gave a float32 channel-first input (it is not adapted twice).</summary>
    internal bool InputAdapted { get; private init; }
    public IReadOnlyList<string> OutputNames { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <param name="severalInputs">Accept a graph with several inputs (a caption decoder step); <see cref="InputName"/> is then the first.</param>
    public static OnnxModel Load(string path, bool severalInputs = false)
    {
        if (!File.Exists(path))
            throw new CnnFixationsException(System.IO.Directory.Exists(path) ? $"model '{path}' is a folder, not an ONNX file" : $"model file '{path}' not found");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"model file '{path}' cannot be read: {e.Message}", e);
        }
        return FromBytes(bytes, path, severalInputs);
    }

    public static OnnxModel FromBytes(byte[] bytes, string? path = null, bool severalInputs = false)
    {
        string label = path ?? "(in memory)";
        if (bytes.Length == 0) throw new CnnFixationsException($"model file '{label}' is empty");
        ModelProto proto;
        try { proto = ModelProto.Parser.ParseFrom(bytes); }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException or ArgumentException)
        {
            throw new CnnFixationsException($"model file '{label}' is not a valid ONNX model ({e.Message.TrimEnd('.')})", e);
        }
        if (proto.Graph == null || proto.Graph.Node.Count == 0)
            throw new CnnFixationsException($"model file '{label}' is not a valid ONNX model (it has no graph nodes)");
        // The digest (for reports) is computed on another core while the rest of the loading goes on.
        var sha = Task.Run(() => Convert.ToHexStringLower(SHA256.HashData(bytes)));
        try { return new OnnxModel(proto, bytes, path, sha, severalInputs); }
        catch (CnnFixationsException e) { throw new CnnFixationsException($"model file '{label}': {e.Message}", e); }
    }

    /// <summary>
    /// A model built from an edited copy of this model's graph (the input adapters of <see cref="InputAdapter"/>):
    /// same path (external data resolves as before) and the same sha256 as the file it came from.
    /// </summary>
    internal OnnxModel WithProto(ModelProto edited)
    {
        var bytes = edited.ToByteArray();
        try { return new OnnxModel(edited, bytes, Path, _sha256) { InputAdapted = true }; }
        catch (CnnFixationsException e) { throw new CnnFixationsException($"model file '{Path ?? "(in memory)"}': {e.Message}", e); }
    }

    /// <summary>
    /// The input shape for shape inference with batch 1: a free batch dimension is fine; null when any
    /// other dimension is not fixed (or the input is not declared).
    /// </summary>
    public int[]? FixedInputShape()
    {
        if (InputShape.Length == 0) return null;
        var shape = (int[])InputShape.Clone();
        if (shape[0] <= 0) shape[0] = 1;
        return shape.All(d => d > 0) ? shape : null;
    }

    /// <summary>A graph output's declared element type, or null when the file declares none (or it is not a tensor).</summary>
    internal TensorProto.Types.DataType? DeclaredOutputElementType(string output) =>
        Proto.Graph.Output.FirstOrDefault(o => o.Name == output)?.Type is { } t
            ? t.ValueCase == TypeProto.ValueOneofCase.TensorType ? (TensorProto.Types.DataType)t.TensorType.ElemType : TensorProto.Types.DataType.Undefined
            : null;

    /// <summary>A graph output's declared shape (-1 for a dimension without a fixed size), or null when the file declares none.</summary>
    public int[]? DeclaredOutputShape(string output) => _outputShapes.GetValueOrDefault(output);

    private static int[]? DeclaredShape(TensorShapeProto? shape) =>
        shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 && d.DimValue <= int.MaxValue ? (int)d.DimValue : -1).ToArray();

    public GraphNode? Producer(string tensor) => _producer.GetValueOrDefault(tensor);

    /// <summary>The tensors that depend on <paramref name="tensor"/> (itself included) and the nodes that read any of them.</summary>
    public (HashSet<string> Tensors, HashSet<int> Nodes) Downstream(string tensor)
    {
        var tensors = new HashSet<string>(StringComparer.Ordinal) { tensor };
        var nodes = new HashSet<int>();
        var stack = new Stack<string>();
        stack.Push(tensor);
        while (stack.Count > 0)
            foreach (var (consumer, _) in Consumers(stack.Pop()))
                if (nodes.Add(consumer.Index))
                    foreach (var o in consumer.Outputs)
                        if (o.Length > 0 && tensors.Add(o)) stack.Push(o);
        return (tensors, nodes);
    }

    public IReadOnlyList<(GraphNode Node, int Input)> Consumers(string tensor) =>
        _consumers.TryGetValue(tensor, out var list) ? list : Array.Empty<(GraphNode, int)>();

    public bool IsConstant(string tensor) => _constants.Contains(tensor);
    public bool IsInitializer(string tensor) => _initializers.ContainsKey(tensor);
    public bool IsGraphOutput(string tensor) => _graphOutputs.Contains(tensor);
    public bool IsKnownTensor(string tensor) =>
        tensor == InputName || _producer.ContainsKey(tensor) || _initializers.ContainsKey(tensor);

    /// <summary>All tensor names that nodes produce, in topological order.</summary>
    public IEnumerable<string> ProducedTensors() => Nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0);

    /// <summary>An initializer's declaration (name, type, dimensions and data).</summary>
    internal TensorProto Initializer(string name) => _initializers[name];

    /// <summary>
    /// A new model read from this one's graph with some initializers replaced (same names; the replacements hold
    /// their data inline). Used by the evaluation's weight-randomization check; the original is not changed.
    /// </summary>
    internal OnnxModel WithInitializers(IReadOnlyDictionary<string, TensorProto> replacements)
    {
        var proto = Proto.Clone();
        var inits = proto.Graph.Initializer;
        for (int i = 0; i < inits.Count; i++)
            if (replacements.TryGetValue(inits[i].Name, out var replacement)) inits[i] = replacement;
        return FromBytes(proto.ToByteArray(), Path);
    }

    /// <summary>Reads an initializer's values.</summary>
    internal ConstTensor ReadInitializer(string name) => TensorProtoReader.Read(_initializers[name], Directory);

    /// <summary>
    /// The value of a constant tensor, computed here for the ops exporters use on weights
    /// (Identity, DequantizeLinear, Transpose, Reshape, ...). Null when it needs ONNX Runtime.
    /// </summary>
    public ConstTensor? TryGetConstant(string tensor) => _folder.TryEvaluate(tensor);

    /// <summary>The shape of a constant; an initializer's comes from its declaration, without reading its values.</summary>
    public int[]? ConstantShape(string tensor) =>
        _initializers.TryGetValue(tensor, out var init) ? TensorProtoReader.Shape(init) : TryGetConstant(tensor)?.Shape;

    /// <summary>
    /// Whether this project computes the constant itself (else ONNX Runtime does). Initializers always are:
    /// their data size is checked now and their values are read when first used.
    /// </summary>
    public bool IsComputedHere(string tensor)
    {
        if (_initializers.TryGetValue(tensor, out var init))
        {
            TensorProtoReader.CheckSize(init);
            return true;
        }
        return TryGetConstant(tensor) != null;
    }

    internal void SetComputedConstant(string tensor, ConstTensor value) => _folder.Store(tensor, value);

    /// <summary>The model serialized with extra graph outputs (for fetching intermediate tensors).</summary>
    /// <remarks>
    /// The file's own bytes are reused: a second <c>graph</c> field holding only the new outputs is
    /// appended, and protobuf parsers merge repeated occurrences of a message field, so the graph
    /// gains the outputs without re-serializing the weights.
    /// </remarks>
    internal byte[] SerializeWithOutputs(IEnumerable<string> extraOutputs)
    {
        var existing = new HashSet<string>(Proto.Graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var addition = new ModelProto { Graph = new GraphProto() };
        foreach (var name in extraOutputs)
            if (existing.Add(name))
                addition.Graph.Output.Add(new ValueInfoProto { Name = name });
        if (addition.Graph.Output.Count == 0) return _bytes;
        return Append(addition);
    }

    /// <summary>
    /// The model serialized with a graph fragment merged into its graph: the fragment's nodes, inputs,
    /// outputs and initializers are appended to the graph's own (the same protobuf merge as
    /// <see cref="SerializeWithOutputs"/>; the original bytes are copied, never re-serialized).
    /// </summary>
    internal byte[] SerializeWithAddition(GraphProto addition) => Append(new ModelProto { Graph = addition });

    private byte[] Append(ModelProto addition)
    {
        var suffix = addition.ToByteArray();
        var result = GC.AllocateUninitializedArray<byte>(_bytes.Length + suffix.Length);
        _bytes.CopyTo(result, 0);
        suffix.CopyTo(result, _bytes.Length);
        return result;
    }

    private static List<GraphNode> SortTopologically(GraphProto graph)
    {
        var protos = graph.Node;
        int n = protos.Count;
        var producerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            foreach (var o in protos[i].Output)
                if (o.Length > 0) producerOf.TryAdd(o, i);
        var dependents = new List<int>[n];
        var pending = new int[n];
        for (int i = 0; i < n; i++) dependents[i] = new List<int>();
        for (int i = 0; i < n; i++)
        {
            foreach (var inp in protos[i].Input.Distinct())
            {
                if (inp.Length > 0 && producerOf.TryGetValue(inp, out int p) && p != i)
                {
                    dependents[p].Add(i);
                    pending[i]++;
                }
            }
        }
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < n; i++) if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<int>(n);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(i);
            foreach (int d in dependents[i]) if (--pending[d] == 0) ready.Enqueue(d, d);
        }
        if (order.Count != n) throw new CnnFixationsException("the graph has a cycle");
        var nodes = new List<GraphNode>(n);
        foreach (int i in order)
        {
            var p = protos[i];
            nodes.Add(new GraphNode(nodes.Count, p.OpType, p.Domain, p.Name, p.Input.ToArray(), p.Output.ToArray(), new NodeAttributes(p.Attribute)));
        }
        return nodes;
    }
}
