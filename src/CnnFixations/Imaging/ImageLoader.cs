using SkiaSharp;

namespace CnnFixations.Imaging;

/// <summary>Reads PNG, JPEG, BMP, WebP and GIF (first frame) files into upright RGB images.</summary>
public static class ImageLoader
{
    /// <summary>The largest image (width x height, from its header) decoded unless a caller allows more.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>
    /// Decodes the image at <paramref name="path"/>, turned upright by its EXIF orientation.
    /// Images with more than <paramref name="maxPixels"/> pixels are refused before decoding.
    /// </summary>
    public static RgbImage Load(string path, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Load(ReadFile(path), path, maxPixels);
    }

    /// <summary>
    /// Decodes an encoded image held in memory; <paramref name="name"/> names it in error messages.
    /// Every failure (empty, truncated, corrupt, unsupported, too large) is a <see cref="CnnFixationsException"/>.
    /// </summary>
    public static RgbImage Load(byte[] bytes, string name, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(name);
        if (maxPixels < 1)
            throw new CnnFixationsException($"the pixel limit for image '{name}' must be positive (got {maxPixels})");
        if (bytes.Length == 0)
            throw new CnnFixationsException($"cannot read image '{name}': the file is empty");
        if (ImageFormatSniffer.UnsupportedFormat(bytes) is { } other)
            throw new CnnFixationsException($"image '{name}' is {other}, which is not supported (PNG, JPEG, BMP, WebP or GIF expected)");

        // The codec takes ownership of the stream (and deletes it itself when it fails to open).
        using var codec = SKCodec.Create(new SKMemoryStream(bytes), out SKCodecResult createResult);
        if (codec is null)
        {
            throw createResult == SKCodecResult.IncompleteInput && ImageFormatSniffer.LooksSupported(bytes)
                ? new CnnFixationsException($"image '{name}' is truncated: its header is incomplete")
                : new CnnFixationsException($"'{name}' is not a supported image (PNG, JPEG, BMP, WebP or GIF expected)");
        }

        // The size comes from the header alone: a file that declares more pixels than the limit
        // (a decompression bomb) is refused here, before any pixel memory is allocated.
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
            throw new CnnFixationsException($"image '{name}' has no pixels ({width}x{height})");
        long pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new CnnFixationsException($"image '{name}' is {width}x{height} = {pixels} pixels, more than the limit of {maxPixels} (see --max-pixels)");
        if (pixels * 4 > Array.MaxLength)
            throw new CnnFixationsException($"image '{name}' is {width}x{height}, too large to decode in memory");

        // RGBA in memory order whatever the platform's native order; colours as stored (unpremultiplied),
        // no colour space conversion.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        byte[] rgba;
        try
        {
            rgba = new byte[pixels * 4];
        }
        catch (OutOfMemoryException e)
        {
            throw new CnnFixationsException($"image '{name}' is {width}x{height}: not enough memory to decode it", e);
        }
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = rgba)
                result = codec.GetPixels(info, (IntPtr)p, info.RowBytes, new SKCodecOptions(0));
        }
        if (result != SKCodecResult.Success)
        {
            throw result == SKCodecResult.IncompleteInput
                ? new CnnFixationsException($"image '{name}' is truncated: its pixel data ends early")
                : new CnnFixationsException($"image '{name}' cannot be decoded: {Describe(result)}");
        }

        var rgb = new byte[pixels * 3];
        for (long i = 0, j = 0; i < pixels; i++, j += 3)
        {
            rgb[j] = rgba[4 * i];
            rgb[j + 1] = rgba[4 * i + 1];
            rgb[j + 2] = rgba[4 * i + 2];
        }
        return ImageOrientation.Upright(new RgbImage(width, height, rgb), codec.EncodedOrigin);
    }

    private static byte[] ReadFile(string path)
    {
        if (Directory.Exists(path))
            throw new CnnFixationsException($"cannot read image '{path}': it is a folder, not a file");
        if (!File.Exists(path))
            throw new CnnFixationsException($"cannot read image '{path}': the file does not exist");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            throw new CnnFixationsException($"cannot read image '{path}': {e.Message}", e);
        }
        if (bytes.Length == 0)
            throw new CnnFixationsException($"cannot read image '{path}': the file is empty");
        return bytes;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.InvalidInput => "the data is corrupt",
        SKCodecResult.ErrorInInput => "the data is corrupt",
        SKCodecResult.InvalidConversion => "its pixel format cannot be converted to RGB",
        SKCodecResult.Unimplemented => "its encoding variant is not supported",
        _ => $"the decoder reported {result}",
    };
}
