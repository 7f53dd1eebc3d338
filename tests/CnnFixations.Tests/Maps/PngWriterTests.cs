using CnnFixations.Maps;
using SkiaSharp;

namespace CnnFixations.Tests.Maps;

/// <summary>The PNG encoder against an independent decoder (Skia's libpng, which checks every chunk's CRC) and known CRC values.</summary>
public class PngWriterTests
{
    [Theory]
    [InlineData(1, 1, 4)]
    [InlineData(37, 5, 4)]
    [InlineData(64, 33, 3)]
    [InlineData(101, 7, 1)]
    public void Decoded_pixels_equal_the_encoded_ones(int width, int height, int channels)
    {
        var random = new Random(width * 1000 + height);
        int stride = width * channels + 5; // rows with padding
        var pixels = new byte[stride * height];
        random.NextBytes(pixels);
        var png = PngWriter.Encode(pixels, width, height, stride, channels);
        using var decoded = SKBitmap.Decode(png);
        Assert.NotNull(decoded);
        Assert.Equal(width, decoded.Width);
        Assert.Equal(height, decoded.Height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = decoded.GetPixel(x, y);
                int s = y * stride + x * channels;
                if (channels == 1) Assert.Equal((pixels[s], pixels[s], pixels[s]), (c.Red, c.Green, c.Blue));
                else Assert.Equal((pixels[s], pixels[s + 1], pixels[s + 2]), (c.Red, c.Green, c.Blue));
                Assert.Equal(255, c.Alpha);
            }
    }

    [Fact]
    public void Crc32_matches_known_values()
    {
        // "123456789" -> 0xCBF43926 (the standard check value); "IEND" with no data -> 0xAE426082 (every PNG ends with it).
        Assert.Equal(0xCBF43926u, PngWriter.Crc32.Update(0xFFFFFFFFu, "123456789"u8) ^ 0xFFFFFFFFu);
        Assert.Equal(0xAE426082u, PngWriter.Crc32.Update(0xFFFFFFFFu, "IEND"u8) ^ 0xFFFFFFFFu);
        var png = PngWriter.Encode(new byte[] { 1, 2, 3, 4 }, 1, 1, 4, 4);
        Assert.Equal(new byte[] { 0xAE, 0x42, 0x60, 0x82 }, png[^4..]);
    }
}
