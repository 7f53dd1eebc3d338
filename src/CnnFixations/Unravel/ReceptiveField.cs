using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// Maps a position (y, x) of a spatial tensor to the network-input pixel at the centre of its
/// receptive field, following data inputs back to the input: windows (Conv, pooling) map y to
/// <c>y*stride - padTop + ((kernel-1)*dilation)//2</c>, Pad shifts, element-wise ops keep the position.
/// </summary>
public sealed class ReceptiveField
{
    private readonly long _scaleY, _offsetY, _scaleX, _offsetX;
    private readonly int _inputH, _inputW;

    private ReceptiveField(long sy, long oy, long sx, long ox, int inputH, int inputW)
    {
        _scaleY = sy; _offsetY = oy; _scaleX = sx; _offsetX = ox;
        _inputH = inputH; _inputW = inputW;
    }

    /// <summary>The receptive-field centre of (y, x) in input pixels, not clamped (it may lie outside the input).</summary>
    public (long Y, long X) RawCentre(int y, int x) => (_scaleY * y + _offsetY, _scaleX * x + _offsetX);

    public (int Y, int X) Centre(int y, int x) =>
        ((int)Math.Clamp(_scaleY * y + _offsetY, 0, _inputH - 1), (int)Math.Clamp(_scaleX * x + _offsetX, 0, _inputW - 1));

    /// <summary>The mapping for a [1,C,H,W] tensor, or null when the chain to the input leaves spatial ops (Flatten, Gemm, global pooling).</summary>
    public static ReceptiveField? Of(OnnxModel model, string tensor, Func<string, int[]?> shape)
    {
        var inputShape = shape(model.InputName);
        if (inputShape == null || inputShape.Length != 4) return null;
        long sy = 1, oy = 0, sx = 1, ox = 0; // input = s * y + o, composed from the tensor down
        int hAxis = 2, wAxis = 3; // where the rows and columns are in the current tensor (a Transpose moves them)
        for (int guard = 0; guard < 100000; guard++)
        {
            if (tensor == model.InputName)
                return hAxis == 2 && wAxis == 3 ? new ReceptiveField(sy, oy, sx, ox, inputShape[2], inputShape[3]) : null;
            var node = model.Producer(tensor);
            var outShape = shape(tensor);
            if (node == null || outShape == null || outShape.Length != 4 || !node.IsDefaultDomain) return null;
            var data = Enumerable.Range(0, node.Inputs.Count)
                .Where(i => node.InputOrNull(i) is { } t && !model.IsConstant(t) && shape(t) is { Length: 4 } s && s[2] > 1 | s[3] > 1 || (node.InputOrNull(i) is { } t2 && t2 == model.InputName))
                .ToList();
            if (data.Count == 0) return null;
            string input = node.Inputs[data[0]];
            var inShape = shape(input);
            if (inShape == null || inShape.Length != 4) return null;
            if (node.OpType == "Transpose")
            {
                var perm = node.Attributes.GetInts("perm");
                if (perm == null || perm.Length != 4) return null;
                hAxis = (int)perm[hAxis];
                wAxis = (int)perm[wAxis];
                tensor = input;
                continue;
            }
            if (hAxis != 2 || wAxis != 3) return null;
            switch (node.OpType)
            {
                case "Conv":
                case "MaxPool":
                case "AveragePool":
                case "LpPool":
                {
                    int kh, kw;
                    if (node.OpType == "Conv")
                    {
                        var w = shape(node.Inputs[1]);
                        if (w == null || w.Length != 4) return null;
                        kh = w[2]; kw = w[3];
                    }
                    else
                    {
                        var k = node.Attributes.GetInts("kernel_shape");
                        if (k == null || k.Length != 2) return null;
                        kh = (int)k[0]; kw = (int)k[1];
                    }
                    var win = Rules.Window2D.Of(node, kh, kw, inShape[2], inShape[3], outShape[2], outShape[3]);
                    // input = stride * (s*y + o) - pad + centre
                    oy = win.StrideH * oy - win.PadTop + (long)(kh - 1) * win.DilationH / 2;
                    sy *= win.StrideH;
                    ox = win.StrideW * ox - win.PadLeft + (long)(kw - 1) * win.DilationW / 2;
                    sx *= win.StrideW;
                    break;
                }
                case "Pad":
                {
                    long[]? pads = node.Attributes.GetInts("pads") ?? (node.InputOrNull(1) is { } p ? model.TryGetConstant(p)?.ToInt64s() : null);
                    if (pads == null || pads.Length != 8) return null;
                    oy -= pads[2];
                    ox -= pads[3];
                    break;
                }
                default:
                    if (inShape[2] != outShape[2] || inShape[3] != outShape[3]) return null;
                    break;
            }
            tensor = input;
        }
        return null;
    }
}
