using System.Collections;
using System.Diagnostics.CodeAnalysis;
using CnnFixations.Onnx;

namespace CnnFixations.Inference;

/// <summary>
/// The tensors of one forward pass (logits, fetched activations, the input). Disposing it hands its
/// buffers back for the next pass; its tensors must not be used after that.
/// </summary>
public sealed class ForwardPass : IReadOnlyDictionary<string, TensorValue>, IDisposable
{
    private readonly Dictionary<string, TensorValue> _values;
    private Action? _release;

    internal ForwardPass(Dictionary<string, TensorValue> values, Action? release)
    {
        _values = values;
        _release = release;
    }

    public TensorValue this[string key] => _values[key];
    public IEnumerable<string> Keys => _values.Keys;
    public IEnumerable<TensorValue> Values => _values.Values;
    public int Count => _values.Count;
    public bool ContainsKey(string key) => _values.ContainsKey(key);
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out TensorValue value) => _values.TryGetValue(key, out value);
    public IEnumerator<KeyValuePair<string, TensorValue>> GetEnumerator() => _values.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}
