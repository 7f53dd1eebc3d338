using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Cli;

/// <summary>A picture of a network-input tensor (each channel stretched to 0..255), for overlays of --input-tensor runs.</summary>
internal static class TensorPreview
{
    public static RgbImage ToImage(TensorValue tensor)
    {
        int c = tensor.Shape[1], h = tensor.Shape[2], w = tensor.Shape[3];
        var pixels = new byte[3 * h * w];
        for (int ch = 0; ch < 3; ch++)
        {
            int src = Math.Min(ch, c - 1);
            var plane = tensor.Data.AsSpan(src * h * w, h * w);
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            foreach (float v in plane) if (float.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
            float range = max > min ? max - min : 1;
            for (int i = 0; i < plane.Length; i++)
            {
                float v = float.IsFinite(plane[i]) ? (plane[i] - min) / range : 0;
                pixels[3 * i + ch] = (byte)Math.Clamp(MathF.Round(v * 255), 0, 255);
            }
        }
        return new RgbImage(w, h, pixels);
    }
}
