namespace CnnFixations.Imaging;

/// <summary>Resizing (antialiased Lanczos, as Pillow's LANCZOS filter), cropping and mirroring of RGB images.</summary>
public static class Resampler
{
    /// <summary>
    /// Resizes with a separable Lanczos (a = 3) filter, widened by the shrink factor when shrinking:
    /// a horizontal pass, then a vertical pass, each rounding to bytes. The same size returns a copy.
    /// </summary>
    public static RgbImage Resize(RgbImage src, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (width < 1 || height < 1)
            throw new CnnFixationsException($"cannot resize a {src.Width}x{src.Height} image to {width}x{height}: the size must be at least 1x1");
        // The horizontal pass makes a width x src.Height image first: refuse what would not fit in memory
        // (only extreme aspect ratios get there within the pixel limits).
        if (3L * width * src.Height > Array.MaxLength || 3L * width * height > Array.MaxLength)
            throw new CnnFixationsException($"cannot resize a {src.Width}x{src.Height} image to {width}x{height}: the intermediate image is too large");
        var image = src;
        if (width != src.Width)
            image = ResizeRows(image, width);
        if (height != src.Height)
            image = ResizeColumns(image, height);
        return ReferenceEquals(image, src) ? new RgbImage(src.Width, src.Height, (byte[])src.Pixels.Clone()) : image;
    }

    /// <summary>The w x h rectangle whose top-left pixel is (x, y).</summary>
    public static RgbImage Crop(RgbImage src, int x, int y, int w, int h)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (w < 1 || h < 1 || x < 0 || y < 0 || (long)x + w > src.Width || (long)y + h > src.Height)
            throw new CnnFixationsException($"the crop {w}x{h} at ({x}, {y}) does not lie inside the {src.Width}x{src.Height} image");
        var dst = new byte[3 * w * h];
        for (int row = 0; row < h; row++)
            Array.Copy(src.Pixels, 3 * ((y + row) * src.Width + x), dst, 3 * row * w, 3 * w);
        return new RgbImage(w, h, dst);
    }

    /// <summary>The image mirrored left to right.</summary>
    public static RgbImage MirrorHorizontal(RgbImage src)
    {
        ArgumentNullException.ThrowIfNull(src);
        int w = src.Width;
        var dst = new byte[src.Pixels.Length];
        for (int y = 0; y < src.Height; y++)
        {
            int row = 3 * y * w;
            for (int x = 0; x < w; x++)
            {
                int si = row + 3 * x, di = row + 3 * (w - 1 - x);
                dst[di] = src.Pixels[si];
                dst[di + 1] = src.Pixels[si + 1];
                dst[di + 2] = src.Pixels[si + 2];
            }
        }
        return new RgbImage(w, src.Height, dst);
    }

    private static RgbImage ResizeRows(RgbImage src, int width)
    {
        var lw = LanczosWeights.Create(src.Width, width);
        int height = src.Height, srcStride = 3 * src.Width;
        var s = src.Pixels;
        var dst = new byte[3 * width * height];
        for (int y = 0; y < height; y++)
        {
            int rowIn = y * srcStride, rowOut = 3 * y * width;
            for (int o = 0; o < width; o++)
            {
                int r = LanczosWeights.Half, g = r, b = r;
                int k0 = o * lw.Stride, p = rowIn + 3 * lw.First[o];
                for (int k = 0; k < lw.Count[o]; k++, p += 3)
                {
                    int wk = lw.Weights[k0 + k];
                    r += s[p] * wk;
                    g += s[p + 1] * wk;
                    b += s[p + 2] * wk;
                }
                int d = rowOut + 3 * o;
                dst[d] = LanczosWeights.ToByte(r);
                dst[d + 1] = LanczosWeights.ToByte(g);
                dst[d + 2] = LanczosWeights.ToByte(b);
            }
        }
        return new RgbImage(width, height, dst);
    }

    private static RgbImage ResizeColumns(RgbImage src, int height)
    {
        var lw = LanczosWeights.Create(src.Height, height);
        int rowBytes = 3 * src.Width;
        var s = src.Pixels;
        var dst = new byte[rowBytes * height];
        var acc = new int[rowBytes];
        for (int o = 0; o < height; o++)
        {
            Array.Fill(acc, LanczosWeights.Half);
            int k0 = o * lw.Stride;
            for (int k = 0; k < lw.Count[o]; k++)
            {
                int wk = lw.Weights[k0 + k];
                var row = s.AsSpan((lw.First[o] + k) * rowBytes, rowBytes);
                for (int i = 0; i < rowBytes; i++)
                    acc[i] += row[i] * wk;
            }
            var outRow = dst.AsSpan(o * rowBytes, rowBytes);
            for (int i = 0; i < rowBytes; i++)
                outRow[i] = LanczosWeights.ToByte(acc[i]);
        }
        return new RgbImage(src.Width, height, dst);
    }
}
