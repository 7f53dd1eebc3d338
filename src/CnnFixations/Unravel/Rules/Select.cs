namespace CnnFixations.Unravel.Rules;

/// <summary>Argmax helpers with the spec's tie rule (lowest index wins) that never pick a NaN.</summary>
internal static class Select
{
    /// <summary>Index of the largest value, the first one on ties; -1 when every value is NaN or the span is empty.</summary>
    public static int Argmax(ReadOnlySpan<double> values)
    {
        if (values.Length >= 64 && Contributions.Vectorized)
        {
            // Find the largest value with vector code, then its first occurrence (-0 and +0 count as equal, as in the scalar loop).
            int candidate = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(values);
            double max = values[candidate];
            if (!double.IsNaN(max))
                for (int i = 0; i < values.Length; i++)
                    if (values[i] == max) return i;
        }
        int best = -1;
        double bestValue = double.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (double.IsNaN(v)) continue;
            if (best < 0 || v > bestValue)
            {
                best = i;
                bestValue = v;
            }
        }
        return best;
    }
}

/// <summary>Right-aligned (numpy-style) broadcasting of an output index onto an input.</summary>
internal static class Broadcast
{
    public static int MapIndex(int outFlat, int[] outShape, int[] inShape)
    {
        if (inShape.Length == outShape.Length && CnnFixations.Onnx.Shapes.SameShape(inShape, outShape)) return outFlat;
        Span<int> idx = stackalloc int[outShape.Length];
        CnnFixations.Onnx.Shapes.Unravel(outFlat, outShape, idx);
        int offset = outShape.Length - inShape.Length;
        int flat = 0;
        for (int d = 0; d < inShape.Length; d++)
        {
            int i = inShape[d] == 1 ? 0 : idx[d + offset];
            flat = flat * inShape[d] + i;
        }
        return flat;
    }
}
