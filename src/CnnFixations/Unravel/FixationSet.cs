using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// The fixations on one tensor: a set of neurons, stored as flat row-major indices
/// (batch axis included, batch 1). Enumerates in ascending index order, so walks are deterministic.
/// </summary>
public sealed class FixationSet
{
    // One bit per neuron, in pages of 4096 bits allocated when first touched: adding is a bit test, the
    // ascending enumeration a scan of the pages, and no allocation is large (no large-object-heap churn).
    private const int PageShift = 12, WordsPerPage = 1 << (PageShift - 6);
    private ulong[]?[]? _pages;
    private int _count;
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
    public int Count => _count;
    public bool IsEmpty => _count == 0;

    public bool Add(int index)
    {
        if ((uint)index >= (uint)Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"neuron {index} outside tensor '{Tensor}' of shape {Shapes.Format(Shape)}");
        _pages ??= new ulong[]?[((long)Length + (1 << PageShift) - 1 >> PageShift)];
        var page = _pages[index >> PageShift] ??= new ulong[WordsPerPage];
        ref ulong word = ref page[(index >> 6) & (WordsPerPage - 1)];
        ulong bit = 1UL << (index & 63);
        if ((word & bit) != 0) return false;
        word |= bit;
        _count++;
        _sorted = null;
        return true;
    }

    public bool Contains(int index) =>
        (uint)index < (uint)Length && _pages?[index >> PageShift] is { } page && (page[(index >> 6) & (WordsPerPage - 1)] & (1UL << (index & 63))) != 0;

    /// <summary>Adds every neuron of <paramref name="other"/> (a set on a tensor of the same size) by flat index, a page at a time.</summary>
    public void UnionWith(FixationSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Length != Length)
            throw new ArgumentException($"'{other.Tensor}' has {other.Length} neurons, '{Tensor}' has {Length}");
        if (other._pages == null) return;
        _pages ??= new ulong[]?[other._pages.Length];
        for (int p = 0; p < other._pages.Length; p++)
        {
            if (other._pages[p] is not { } source) continue;
            var target = _pages[p] ??= new ulong[WordsPerPage];
            for (int w = 0; w < WordsPerPage; w++)
            {
                ulong added = source[w] & ~target[w];
                if (added == 0) continue;
                target[w] |= added;
                _count += System.Numerics.BitOperations.PopCount(added);
            }
        }
        _sorted = null;
    }

    /// <summary>The flat indices in ascending order.</summary>
    public ReadOnlySpan<int> Indices()
    {
        if (_sorted == null)
        {
            var sorted = new int[_count];
            int n = 0;
            if (_pages != null)
                for (int p = 0; p < _pages.Length && n < sorted.Length; p++)
                {
                    if (_pages[p] is not { } page) continue;
                    for (int w = 0; w < WordsPerPage; w++)
                    {
                        ulong word = page[w];
                        int baseIndex = (p << PageShift) + (w << 6);
                        while (word != 0)
                        {
                            sorted[n++] = baseIndex + System.Numerics.BitOperations.TrailingZeroCount(word);
                            word &= word - 1;
                        }
                    }
                }
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
