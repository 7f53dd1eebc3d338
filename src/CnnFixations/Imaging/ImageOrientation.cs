using SkiaSharp;

namespace CnnFixations.Imaging;

/// <summary>Turns pixels stored in an EXIF orientation into the upright image.</summary>
internal static class ImageOrientation
{
    /// <summary>
    /// Returns the upright image for pixels stored as <paramref name="stored"/> with the given origin
    /// (the EXIF orientation tag, 1..8). TopLeft returns <paramref name="stored"/> itself.
    /// </summary>
    public static RgbImage Upright(RgbImage stored, SKEncodedOrigin origin)
    {
        int w = stored.Width, h = stored.Height;
        // For each upright pixel (ox, oy), the stored pixel it comes from.
        Func<int, int, (int X, int Y)> source;
        bool swapsAxes;
        switch (origin)
        {
            case SKEncodedOrigin.TopLeft:
                return stored;
            case SKEncodedOrigin.TopRight: // 2: mirrored left to right
                source = (ox, oy) => (w - 1 - ox, oy); swapsAxes = false; break;
            case SKEncodedOrigin.BottomRight: // 3: turned by 180 degrees
                source = (ox, oy) => (w - 1 - ox, h - 1 - oy); swapsAxes = false; break;
            case SKEncodedOrigin.BottomLeft: // 4: mirrored top to bottom
                source = (ox, oy) => (ox, h - 1 - oy); swapsAxes = false; break;
            case SKEncodedOrigin.LeftTop: // 5: stored row 0 is the left column, stored column 0 the top row
                source = (ox, oy) => (oy, ox); swapsAxes = true; break;
            case SKEncodedOrigin.RightTop: // 6: stored row 0 is the right column (turn clockwise)
                source = (ox, oy) => (oy, h - 1 - ox); swapsAxes = true; break;
            case SKEncodedOrigin.RightBottom: // 7: stored row 0 is the right column, column 0 the bottom row
                source = (ox, oy) => (w - 1 - oy, h - 1 - ox); swapsAxes = true; break;
            case SKEncodedOrigin.LeftBottom: // 8: stored row 0 is the left column (turn anticlockwise)
                source = (ox, oy) => (w - 1 - oy, ox); swapsAxes = true; break;
            default:
                return stored;
        }

        int outW = swapsAxes ? h : w, outH = swapsAxes ? w : h;
        var src = stored.Pixels;
        var dst = new byte[src.Length];
        for (int oy = 0; oy < outH; oy++)
        {
            for (int ox = 0; ox < outW; ox++)
            {
                var (sx, sy) = source(ox, oy);
                int si = 3 * (sy * w + sx), di = 3 * (oy * outW + ox);
                dst[di] = src[si];
                dst[di + 1] = src[si + 1];
                dst[di + 2] = src[si + 2];
            }
        }
        return new RgbImage(outW, outH, dst);
    }
}
