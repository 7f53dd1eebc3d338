using CnnFixations.Onnx.Proto;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Baselines;

/// <summary>
/// Scattering each output position of a window op (Conv, pooling) back over its window as ONNX nodes: the
/// attributes of the matching ConvTranspose, and the faster depthwise Conv with flipped kernels where it
/// applies. Shared by the gradient graph and the weighted walk's graph.
/// </summary>
internal static class TransposedWindow
{
    /// <summary>
    /// The attributes of a ConvTranspose that scatters each output position of the window op back over its
    /// window: same kernel, strides, dilations and leading pads; the trailing pad (or an output padding) makes
    /// the result exactly the input's size (ONNX ConvTranspose: size = stride*(in-1) + output_padding + extent - pads).
    /// </summary>
    public static AttributeProto[] Attributes(Window2D win, int[] x, int[] y, int group)
    {
        var (endH, extraH) = TrailingPad(x[2], y[2], win.KernelH, win.StrideH, win.DilationH, win.PadTop);
        var (endW, extraW) = TrailingPad(x[3], y[3], win.KernelW, win.StrideW, win.DilationW, win.PadLeft);
        return new[]
        {
            Attr.Ints("kernel_shape", win.KernelH, win.KernelW),
            Attr.Ints("strides", win.StrideH, win.StrideW),
            Attr.Ints("dilations", win.DilationH, win.DilationW),
            Attr.Ints("pads", win.PadTop, win.PadLeft, endH, endW),
            Attr.Ints("output_padding", extraH, extraW),
            Attr.Int("group", group),
        };
    }

    private static (long Pad, long OutputPadding) TrailingPad(int inSize, int outSize, int kernel, int stride, int dilation, int padBegin)
    {
        long full = (long)stride * (outSize - 1) + (long)(kernel - 1) * dilation + 1;
        long end = full - padBegin - inSize;
        return end >= 0 ? (end, 0) : (0, -end);
    }

    /// <summary>Which values of a kernel a transposed window uses.</summary>
    public enum Part { All, Positive, Negative }

    private static float Take(float v, Part part, float scale) => part switch
    {
        Part.Positive => v > 0 ? v * scale : 0f,
        Part.Negative => v < 0 ? v * scale : 0f,
        _ => v * scale,
    };

    /// <summary>
    /// A stride-1 depthwise window's transpose as a depthwise Conv of <paramref name="dy"/> with the flipped kernels
    /// (ONNX Runtime's depthwise Conv is much faster than its grouped ConvTranspose); null when not applicable.
    /// <paramref name="kernels"/> are [channels,1,kh,kw].
    /// </summary>
    public static string? DepthwiseFlipped(GraphEmitter g, string dy, float[] kernels, Window2D win, int[] x, int[] y, int group)
    {
        if (group == 1 || group != x[1] || group != y[1] || kernels.Length != group * win.KernelH * win.KernelW) return null;
        return Flipped(g, dy, kernels, new[] { group, 1, win.KernelH, win.KernelW }, win, x, y, group, Part.All, 1f);
    }

    /// <summary>
    /// A stride-1 window's transpose as a Conv of <paramref name="dy"/> with the flipped kernels (input and output channels
    /// swapped for group 1): ONNX Runtime runs Conv in its blocked layout, much faster than ConvTranspose. Null unless the
    /// stride is 1 and the group is 1 or one channel per group (depthwise). The kernels used are <paramref name="part"/>
    /// of <paramref name="kernels"/> times <paramref name="scale"/>.
    /// </summary>
    public static string? Flipped(GraphEmitter g, string dy, float[] kernels, int[] kernelShape, Window2D win, int[] x, int[] y, int group, Part part, float scale)
    {
        int cout = kernelShape[0], cinG = kernelShape[1], kh = kernelShape[2], kw = kernelShape[3];
        bool depthwise = group > 1 && cinG == 1 && cout == group && x[1] == group && y[1] == group;
        if (win.StrideH != 1 || win.StrideW != 1 || !(group == 1 || depthwise)) return null;
        int extentH = (kh - 1) * win.DilationH + 1, extentW = (kw - 1) * win.DilationW + 1;
        long top = extentH - 1 - win.PadTop, left = extentW - 1 - win.PadLeft;
        long bottom = x[2] + extentH - 1 - y[2] - top, right = x[3] + extentW - 1 - y[3] - left;
        if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
        int taps = kh * kw;
        string weights = depthwise
            ? g.Floats(new[] { group, 1, kh, kw }, d =>
            {
                for (int c = 0; c < group; c++)
                    for (int i = 0; i < taps; i++) d[c * taps + i] = Take(kernels[c * taps + taps - 1 - i], part, scale);
            })
            // W'[k, o, u, v] = W[o, k, kh-1-u, kw-1-v]
            : g.Floats(new[] { cinG, cout, kh, kw }, d =>
            {
                for (int o = 0; o < cout; o++)
                    for (int k = 0; k < cinG; k++)
                        for (int i = 0; i < taps; i++) d[(k * cout + o) * taps + i] = Take(kernels[(o * cinG + k) * taps + taps - 1 - i], part, scale);
            });
        return g.Node("Conv", new[] { dy, weights },
            Attr.Ints("kernel_shape", kh, kw), Attr.Ints("dilations", win.DilationH, win.DilationW),
            Attr.Ints("pads", top, left, bottom, right), Attr.Int("group", depthwise ? group : 1));
    }

    /// <summary>
    /// The transpose of a window op with constant kernels [cout, cin/group, kh, kw] (<paramref name="part"/> of them, times
    /// <paramref name="scale"/>) applied to <paramref name="dy"/>.
    /// </summary>
    public static string Apply(GraphEmitter g, string dy, float[] kernels, int[] kernelShape, Window2D win, int[] x, int[] y, int group,
        Part part = Part.All, float scale = 1f) =>
        Flipped(g, dy, kernels, kernelShape, win, x, y, group, part, scale)
        ?? g.Node("ConvTranspose", new[] { dy, g.Floats(kernelShape, d =>
        {
            for (int i = 0; i < d.Length; i++) d[i] = Take(kernels[i], part, scale);
        }) }, Attributes(win, x, y, group));
}
