namespace CnnFixations.Imaging;

/// <summary>An 8-bit RGB image: <see cref="Pixels"/> holds R, G, B interleaved, row by row, top row first.</summary>
public sealed class RgbImage
{
    /// <summary>An image over <paramref name="pixels"/> (3 x width x height bytes, not copied).</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width < 1 || height < 1)
            throw new CnnFixationsException($"an image must be at least 1x1 pixels, got {width}x{height}");
        if (pixels.LongLength != 3L * width * height)
            throw new CnnFixationsException($"a {width}x{height} RGB image needs {3L * width * height} bytes, got {pixels.LongLength}");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>RGB interleaved, row-major, length 3*Width*Height.</summary>
    public byte[] Pixels { get; }

    /// <summary>The colour of pixel (x, y).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
                throw new CnnFixationsException($"pixel ({x}, {y}) is outside the {Width}x{Height} image");
            int i = 3 * (y * Width + x);
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }
}
