using SkiaSharp;

namespace CnnFixations.Imaging;

/// <summary>Reads PNG, JPEG, BMP, WebP and GIF (first frame) files into upright RGB images.</summary>
public static class ImageLoader
{
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>
    /// Decodes the image at <paramref name="path"/>, turned upright by its EXIF orientation.
    /// Images with more than <paramref name="maxPixels"/> pixels are refused before decoding.
    /// </summary>
    public static RgbImage Load(string path, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = ReadFile(path);
        // The codec takes ownership of the stream (and deletes it itself when it fails to open).
        using var codec = SKCodec.Create(new SKMemoryStream(bytes), out SKCodecResult createResult);
        if (codec is null)
        {
            throw createResult == SKCodecResult.IncompleteInput
                ? new CnnFixationsException($"image '{path}' is truncated: its header is incomplete")
                : new CnnFixationsException($"'{path}' is not a supported image (PNG, JPEG, BMP, WebP or GIF expected)");
        }

        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
            throw new CnnFixationsException($"image '{path}' has no pixels ({width}x{height})");
        long pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new CnnFixationsException($"image '{path}' is {width}x{height} = {pixels} pixels, more than the limit of {maxPixels}");
        if (pixels * 4 > Array.MaxLength)
            throw new CnnFixationsException($"image '{path}' is {width}x{height}, too large to decode in memory");

        // RGBA in memory order whatever the platform's native order; colours as stored (unpremultiplied),
        // no colour space conversion.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[pixels * 4];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = rgba)
                result = codec.GetPixels(info, (IntPtr)p, info.RowBytes, new SKCodecOptions(0));
        }
        if (result != SKCodecResult.Success)
        {
            throw result == SKCodecResult.IncompleteInput
                ? new CnnFixationsException($"image '{path}' is truncated: its pixel data ends early")
                : new CnnFixationsException($"image '{path}' cannot be decoded: {Describe(result)}");
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
