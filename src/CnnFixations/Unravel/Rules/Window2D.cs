using CnnFixations.Onnx;

namespace CnnFixations.Unravel.Rules;

/// <summary>
/// The sliding-window geometry of a 2-D Conv or pooling node: kernel, strides, dilations and the
/// leading pads (explicit, or derived from auto_pad). Output (y, x) reads input rows
/// <c>y*StrideH - PadTop + u*DilationH</c> and columns <c>x*StrideW - PadLeft + v*DilationW</c>.
/// </summary>
internal readonly record struct Window2D(int KernelH, int KernelW, int StrideH, int StrideW, int DilationH, int DilationW, int PadTop, int PadLeft)
{
    public static Window2D Of(GraphNode node, int kernelH, int kernelW, int inH, int inW, int outH, int outW)
    {
        var a = node.Attributes;
        var strides = a.GetInts("strides") ?? new long[] { 1, 1 };
        var dilations = a.GetInts("dilations") ?? new long[] { 1, 1 };
        if (strides.Length != 2 || dilations.Length != 2)
            throw new UnsupportedOperatorException($"{node.Describe()}: only 2-D windows are supported");
        int sh = (int)strides[0], sw = (int)strides[1], dh = (int)dilations[0], dw = (int)dilations[1];
        string autoPad = a.GetString("auto_pad", "NOTSET");
        int top, left;
        switch (autoPad)
        {
            case "SAME_UPPER":
            case "SAME_LOWER":
                int totalH = Math.Max(0, (outH - 1) * sh + (kernelH - 1) * dh + 1 - inH);
                int totalW = Math.Max(0, (outW - 1) * sw + (kernelW - 1) * dw + 1 - inW);
                top = autoPad == "SAME_UPPER" ? totalH / 2 : (totalH + 1) / 2;
                left = autoPad == "SAME_UPPER" ? totalW / 2 : (totalW + 1) / 2;
                break;
            case "VALID":
                top = left = 0;
                break;
            default:
                var pads = a.GetInts("pads") ?? new long[4];
                if (pads.Length != 4) throw new UnsupportedOperatorException($"{node.Describe()}: pads must have 4 values for a 2-D window");
                top = (int)pads[0];
                left = (int)pads[1];
                break;
        }
        return new Window2D(kernelH, kernelW, sh, sw, dh, dw, top, left);
    }

    /// <summary>
    /// The bottom and right pads that make every window of an <paramref name="outH"/> x <paramref name="outW"/> output fit
    /// an <paramref name="inH"/> x <paramref name="inW"/> input with the leading pads (0 where the windows already fit).
    /// </summary>
    public (long Bottom, long Right) TrailingPads(int inH, int inW, int outH, int outW) =>
        (Math.Max(0, (long)(outH - 1) * StrideH + (long)(KernelH - 1) * DilationH + 1 - inH - PadTop),
         Math.Max(0, (long)(outW - 1) * StrideW + (long)(KernelW - 1) * DilationW + 1 - inW - PadLeft));

    public int RowStart(int y) => y * StrideH - PadTop;
    public int ColStart(int x) => x * StrideW - PadLeft;

    /// <summary>The receptive-field centre (upper/left of the two middle pixels for an even extent), clamped into the input.</summary>
    public (int Row, int Col) Centre(int y, int x, int inH, int inW) =>
        (Math.Clamp(RowStart(y) + (KernelH - 1) * DilationH / 2, 0, inH - 1),
         Math.Clamp(ColStart(x) + (KernelW - 1) * DilationW / 2, 0, inW - 1));
}
