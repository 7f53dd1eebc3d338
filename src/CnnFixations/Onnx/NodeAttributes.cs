using CnnFixations.Onnx.Proto;

namespace CnnFixations.Onnx;

/// <summary>Typed access to a node's attributes, with the ONNX defaults supplied by the caller.</summary>
public sealed class NodeAttributes
{
    private readonly Dictionary<string, AttributeProto> _byName = new(StringComparer.Ordinal);

    internal NodeAttributes(IEnumerable<AttributeProto> attributes)
    {
        foreach (var a in attributes) _byName[a.Name] = a;
    }

    /// <summary>The attributes as stored in the file, for copying onto a generated node.</summary>
    internal IEnumerable<AttributeProto> Protos => _byName.Values;

    public bool Has(string name) => _byName.ContainsKey(name);

    public long GetInt(string name, long defaultValue) =>
        _byName.TryGetValue(name, out var a) ? a.I : defaultValue;

    public float GetFloat(string name, float defaultValue) =>
        _byName.TryGetValue(name, out var a) ? a.F : defaultValue;

    public string GetString(string name, string defaultValue) =>
        _byName.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : defaultValue;

    public long[]? GetInts(string name) =>
        _byName.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;

    public float[]? GetFloats(string name) =>
        _byName.TryGetValue(name, out var a) ? a.Floats.ToArray() : null;

    internal TensorProto? GetTensor(string name) =>
        _byName.TryGetValue(name, out var a) && a.T != null ? a.T : null;
}
