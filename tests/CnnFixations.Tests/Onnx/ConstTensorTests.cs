using CnnFixations.Onnx;

namespace CnnFixations.Tests.Onnx;

/// <summary>
/// Integer constants keep their sign. The runtime lets an sbyte[] pass a byte[] type test (and the reverse), so
/// int8 weights were once read as uint8 (-1 as 255): every int8 QDQ model (int8 initializers behind
/// DequantizeLinear) got wrong weights and `--rules paper` lost parity with the reference on them (issue 12).
/// </summary>
public class ConstTensorTests
{
    [Fact]
    public void Int8_values_keep_their_sign()
    {
        var t = new ConstTensor(new[] { 4 }, new sbyte[] { -128, -1, 0, 127 });
        Assert.Equal(new float[] { -128, -1, 0, 127 }, t.ToFloats());
        Assert.Equal(new long[] { -128, -1, 0, 127 }, t.ToInt64s());
        Assert.Equal(-1.0, t.GetDouble(1));
    }

    [Fact]
    public void Uint8_values_stay_unsigned()
    {
        var t = new ConstTensor(new[] { 4 }, new byte[] { 0, 1, 128, 255 });
        Assert.Equal(new float[] { 0, 1, 128, 255 }, t.ToFloats());
        Assert.Equal(new long[] { 0, 1, 128, 255 }, t.ToInt64s());
        Assert.Equal(255.0, t.GetDouble(3));
    }

    [Fact]
    public void Int8_weights_dequantize_per_axis_with_their_sign()
    {
        var q = new ConstTensor(new[] { 2, 2 }, new sbyte[] { -2, 3, -128, 127 });
        var y = ConstantFolder.Dequantize(q, new ConstTensor(new[] { 2 }, new[] { 0.5f, 2f }), new ConstTensor(new[] { 2 }, new sbyte[] { 0, -1 }), 0);
        Assert.Equal(new float[] { -1f, 1.5f, -254f, 256f }, y.ToFloats());
    }

    [Fact]
    public void Uint8_weights_dequantize_with_their_zero_point()
    {
        var q = new ConstTensor(new[] { 3 }, new byte[] { 0, 113, 255 });
        var y = ConstantFolder.Dequantize(q, new ConstTensor(Array.Empty<int>(), new[] { 0.5f }), new ConstTensor(Array.Empty<int>(), new byte[] { 113 }), 1);
        Assert.Equal(new float[] { -56.5f, 0f, 71f }, y.ToFloats());
    }
}
