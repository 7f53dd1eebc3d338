using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// The fixations on one tensor: a set of neurons, stored as flat row-major indices
/// (batch axis included, batch 1). Enumerates in ascending index order, so walks are deterministic.
/// </summary>
public sealed class FixationSet
{
    // Fixation sets are tiny next to their tensors (tens to thousands of neurons out of millions),
    // so they are kept as a hash set, sorted once when enumerated.
    private readonly HashSet<int> _members = new();
    private int[]? _sorted;

    public FixationSet(string tensor, int[] shape)
    {
        Tensor = tensor;
        Shape = shape;
        Length = checked((int)Shapes.ElementCount(shape));
    }

    public string Tensor { get; }
    public int[] Shape { get; }
    /// <summary>Number of neurons in the tensor.</summary>
    public int Length { get; }
    /// <summary>Number of neurons in the set.</summary>
    public int Count => _members.Count;
    public bool IsEmpty => _members.Count == 0;

    public bool Add(int index)
    {
        if ((uint)index >= (uint)Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"neuron {index} outside tensor '{Tensor}' of shape {Shapes.Format(Shape)}");
        if (!_members.Add(index)) return false;
        _sorted = null;
        return true;
    }

    public bool Contains(int index) => _members.Contains(index);

    /// <summary>The flat indices in ascending order.</summary>
    public ReadOnlySpan<int> Indices()
    {
        if (_sorted == null)
        {
            var sorted = new int[_members.Count];
            _members.CopyTo(sorted);
            Array.Sort(sorted);
            _sorted = sorted;
        }
        return _sorted;
    }

    public int[] ToArray() => Indices().ToArray();

    /// <summary>The neurons as index tuples without the batch axis: (c,y,x) for a [1,C,H,W] tensor, (n) for [1,N].</summary>
    public List<int[]> ToNeurons()
    {
        int rank = Shape.Length;
        bool dropBatch = rank > 1 && Shape[0] == 1;
        var result = new List<int[]>(Count);
        Span<int> idx = stackalloc int[Math.Max(rank, 1)];
        foreach (int flat in Indices())
        {
            Shapes.Unravel(flat, Shape, idx[..rank]);
            result.Add(dropBatch ? idx[1..rank].ToArray() : idx[..rank].ToArray());
        }
        return result;
    }
}
