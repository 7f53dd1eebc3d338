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
    public void Chunk_crcs_match_known_values()
    {
        // Every PNG ends with the IEND chunk, whose CRC-32 is 0xAE426082; the IHDR chunk of a 1x1 8-bit RGB
        // image (no interlace) has CRC-32 0x907753DE (as written by zlib-based encoders).
        var png = PngWriter.Encode(new byte[] { 1, 2, 3, 4 }, 1, 1, 4, 4);
        Assert.Equal(new byte[] { 0xAE, 0x42, 0x60, 0x82 }, png[^4..]);
        Assert.Equal("IHDR"u8.ToArray(), png[12..16]);
        Assert.Equal(new byte[] { 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0 }, png[16..29]);
        Assert.Equal(new byte[] { 0x90, 0x77, 0x53, 0xDE }, png[29..33]);
    }
}
