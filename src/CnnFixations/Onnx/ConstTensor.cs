namespace CnnFixations.Onnx;

/// <summary>
/// A constant tensor of the model (initializer, Constant node, or a value computed from them),
/// kept in the element type it was stored in: float, double, int64, int32, uint8 or int8.
/// </summary>
public sealed class ConstTensor
{
    public ConstTensor(int[] shape, Array data)
    {
        Shape = shape;
        Data = data;
        if (Shapes.ElementCount(shape) != data.Length)
            throw new CnnFixationsException($"constant tensor of shape {Shapes.Format(shape)} holds {data.Length} values");
    }

    public int[] Shape { get; }
    public Array Data { get; }
    public int Length => Data.Length;

    public bool IsFloat => Data is float[] || Data is double[];

    public float[] ToFloats() => Data switch
    {
        float[] f => f,
        double[] d => Array.ConvertAll(d, v => (float)v),
        long[] l => Array.ConvertAll(l, v => (float)v),
        int[] i => Array.ConvertAll(i, v => (float)v),
        byte[] b => Array.ConvertAll(b, v => (float)v),
        sbyte[] s => Array.ConvertAll(s, v => (float)v),
        _ => throw new CnnFixationsException($"unsupported constant element type {Data.GetType().Name}"),
    };

    public long[] ToInt64s() => Data switch
    {
        long[] l => l,
        int[] i => Array.ConvertAll(i, v => (long)v),
        byte[] b => Array.ConvertAll(b, v => (long)v),
        sbyte[] s => Array.ConvertAll(s, v => (long)v),
        float[] f => Array.ConvertAll(f, v => (long)v),
        double[] d => Array.ConvertAll(d, v => (long)v),
        _ => throw new CnnFixationsException($"unsupported constant element type {Data.GetType().Name}"),
    };

    public double GetDouble(int i) => Data switch
    {
        float[] f => f[i],
        double[] d => d[i],
        long[] l => l[i],
        int[] n => n[i],
        byte[] b => b[i],
        sbyte[] s => s[i],
        _ => throw new CnnFixationsException($"unsupported constant element type {Data.GetType().Name}"),
    };

    /// <summary>Same values, another shape (Reshape, Flatten, Squeeze, Unsqueeze).</summary>
    public ConstTensor WithShape(int[] shape) => new(shape, Data);

    public TensorValue ToTensorValue() => new(Shape, ToFloats());
}
