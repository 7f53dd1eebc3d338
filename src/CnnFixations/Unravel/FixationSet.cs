using System.Numerics;
using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// The fixations on one tensor: a set of neurons, stored as flat row-major indices
/// (batch axis included, batch 1). Enumerates in ascending index order, so walks are deterministic.
/// </summary>
public sealed class FixationSet
{
    private readonly ulong[] _bits;

    public FixationSet(string tensor, int[] shape)
    {
        Tensor = tensor;
        Shape = shape;
        long n = Shapes.ElementCount(shape);
        Length = checked((int)n);
        _bits = new ulong[(Length + 63) / 64];
    }

    public string Tensor { get; }
    public int[] Shape { get; }
    /// <summary>Number of neurons in the tensor.</summary>
    public int Length { get; }
    /// <summary>Number of neurons in the set.</summary>
    public int Count { get; private set; }
    public bool IsEmpty => Count == 0;

    public bool Add(int index)
    {
        if ((uint)index >= (uint)Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"neuron {index} outside tensor '{Tensor}' of shape {Shapes.Format(Shape)}");
        ref ulong word = ref _bits[index >> 6];
        ulong mask = 1UL << (index & 63);
        if ((word & mask) != 0) return false;
        word |= mask;
        Count++;
        return true;
    }

    public bool Contains(int index) => (uint)index < (uint)Length && (_bits[index >> 6] & (1UL << (index & 63))) != 0;

    public IEnumerable<int> Indices()
    {
        for (int w = 0; w < _bits.Length; w++)
        {
            ulong word = _bits[w];
            while (word != 0)
            {
                int bit = BitOperations.TrailingZeroCount(word);
                yield return (w << 6) + bit;
                word &= word - 1;
            }
        }
    }

    public int[] ToArray()
    {
        var result = new int[Count];
        int i = 0;
        foreach (int index in Indices()) result[i++] = index;
        return result;
    }

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
