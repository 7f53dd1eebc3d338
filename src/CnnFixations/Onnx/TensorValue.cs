namespace CnnFixations.Onnx;

/// <summary>A dense float32 tensor in row-major (C) order, batch axis included.</summary>
public sealed class TensorValue
{
    public TensorValue(int[] shape, float[] data)
    {
        long count = Shapes.ElementCount(shape);
        if (count != data.Length)
            throw new ArgumentException($"shape [{string.Join(",", shape)}] holds {count} elements, data has {data.Length}");
        Shape = shape;
        Data = data;
    }

    public int[] Shape { get; }
    public float[] Data { get; }
    public int Rank => Shape.Length;
    public int Length => Data.Length;
}

/// <summary>Small helpers for shapes and row-major indexing.</summary>
public static class Shapes
{
    /// <summary>
    /// The number of elements of a shape. A negative dimension, or a product too large for a long
    /// (possible for shapes declared in a corrupt file), is a <see cref="CnnFixationsException"/>.
    /// </summary>
    public static long ElementCount(IReadOnlyList<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new CnnFixationsException($"shape {Format(shape)} has a negative dimension");
            if (d != 0 && n > long.MaxValue / d) throw new CnnFixationsException($"shape {Format(shape)} has too many elements");
            n *= d;
        }
        return n;
    }

    public static string Format(IReadOnlyList<int> shape) => "[" + string.Join(",", shape) + "]";

    public static int[] Strides(IReadOnlyList<int> shape)
    {
        var strides = new int[shape.Count];
        int s = 1;
        for (int i = shape.Count - 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
        return strides;
    }

    public static void Unravel(int flat, IReadOnlyList<int> shape, Span<int> index)
    {
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            int d = shape[i];
            index[i] = d == 0 ? 0 : flat % d;
            flat = d == 0 ? 0 : flat / d;
        }
    }

    public static bool SameShape(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>
    /// Interprets a tensor as [1,C,H,W] (rank 4, batch 1), or returns false.
    /// </summary>
    public static bool TryChw(IReadOnlyList<int> shape, out int c, out int h, out int w)
    {
        c = h = w = 0;
        if (shape.Count != 4 || shape[0] != 1) return false;
        c = shape[1]; h = shape[2]; w = shape[3];
        return true;
    }
}
