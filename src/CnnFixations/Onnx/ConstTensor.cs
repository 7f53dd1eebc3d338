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

    /// <summary>Whether the values are int8 (an <c>sbyte[]</c> exactly; a <c>byte[]</c> also passes <c>is sbyte[]</c>).</summary>
    private bool IsInt8 => Data.GetType() == typeof(sbyte[]);

    public float[] ToFloats() => Data switch
    {
        float[] f => f,
        double[] d => Array.ConvertAll(d, v => (float)v),
        long[] l => Array.ConvertAll(l, v => (float)v),
        int[] i => Array.ConvertAll(i, v => (float)v),
        // The runtime lets an sbyte[] pass a byte[] type test and a byte[] pass an sbyte[] one (arrays of
        // same-size integers are interchangeable to the CLR), so int8 is told from uint8 by the exact type:
        // a plain byte[] arm first read int8 weights as uint8 (-1 as 255).
        sbyte[] s when IsInt8 => Array.ConvertAll(s, v => (float)v),
        byte[] b => Array.ConvertAll(b, v => (float)v),
        _ => throw new CnnFixationsException($"unsupported constant element type {Data.GetType().Name}"),
    };

    public long[] ToInt64s() => Data switch
    {
        long[] l => l,
        int[] i => Array.ConvertAll(i, v => (long)v),
        sbyte[] s when IsInt8 => Array.ConvertAll(s, v => (long)v), // exact type (see ToFloats)
        byte[] b => Array.ConvertAll(b, v => (long)v),
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
        sbyte[] s when IsInt8 => s[i], // exact type (see ToFloats)
        byte[] b => b[i],
        _ => throw new CnnFixationsException($"unsupported constant element type {Data.GetType().Name}"),
    };

    /// <summary>Same values, another shape (Reshape, Flatten, Squeeze, Unsqueeze).</summary>
    public ConstTensor WithShape(int[] shape) => new(shape, Data);

    public TensorValue ToTensorValue() => new(Shape, ToFloats());
}
