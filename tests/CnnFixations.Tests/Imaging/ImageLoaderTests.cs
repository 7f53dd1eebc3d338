using System.Buffers.Binary;
using CnnFixations.Imaging;
using SkiaSharp;
using static CnnFixations.Tests.Imaging.TestImageFiles;

namespace CnnFixations.Tests.Imaging;

public sealed class ImageLoaderTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (byte R, byte G, byte B) Quadrants(int x, int y) => (x < 2, y < 2) switch
    {
        (true, true) => (255, 0, 0),
        (false, true) => (0, 255, 0),
        (true, false) => (0, 0, 255),
        _ => (10, 20, 30),
    };

    [Fact]
    public void PngRoundTripKeepsEveryColourInRgbOrder()
    {
        using var bitmap = Bitmap(4, 3, Quadrants);
        var image = ImageLoader.Load(Write(_dir, "q.png", Encode(bitmap, SKEncodedImageFormat.Png)));
        Assert.Equal(4, image.Width);
        Assert.Equal(3, image.Height);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                Assert.Equal(Quadrants(x, y), image[x, y]);
        // Byte layout: pixel (0,0) is R,G,B = 255,0,0; pixel (2,0) starts at byte 6 with 0,255,0.
        Assert.Equal(new byte[] { 255, 0, 0, 255, 0, 0, 0, 255, 0 }, image.Pixels[..9]);
    }

    [Fact]
    public void JpegOfPureColoursDecodesToThoseColours()
    {
        // 16x16 blocks of one colour each, so that 4:2:0 chroma blocks never mix colours.
        using var bitmap = Bitmap(48, 16, (x, _) => x < 16 ? ((byte)255, (byte)0, (byte)0) : x < 32 ? ((byte)0, (byte)255, (byte)0) : ((byte)0, (byte)0, (byte)255));
        var image = ImageLoader.Load(Write(_dir, "rgb.jpg", Encode(bitmap, SKEncodedImageFormat.Jpeg)));
        Assert.Equal((48, 16), (image.Width, image.Height));
        AssertClose((255, 0, 0), image[8, 8], 4);
        AssertClose((0, 255, 0), image[24, 8], 4);
        AssertClose((0, 0, 255), image[40, 8], 4);
    }

    [Fact]
    public void WebpLosslessRoundTripIsExact()
    {
        using var bitmap = Bitmap(4, 3, Quadrants);
        using var pixmap = bitmap.PeekPixels();
        using var data = pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100));
        Assert.NotNull(data);
        var image = ImageLoader.Load(Write(_dir, "q.webp", data.ToArray()));
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                Assert.Equal(Quadrants(x, y), image[x, y]);
    }

    [Fact]
    public void BmpIsReadTopRowFirst()
    {
        var image = ImageLoader.Load(Write(_dir, "q.bmp", Bmp(4, 3, Quadrants)));
        Assert.Equal((4, 3), (image.Width, image.Height));
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                Assert.Equal(Quadrants(x, y), image[x, y]);
    }

    [Fact]
    public void GrayscalePngBecomesEqualRgbChannels()
    {
        byte[] values = [0, 77, 128, 255];
        using var bitmap = new SKBitmap(new SKImageInfo(4, 1, SKColorType.Gray8, SKAlphaType.Opaque));
        values.CopyTo(bitmap.GetPixelSpan());
        var image = ImageLoader.Load(Write(_dir, "gray.png", Encode(bitmap, SKEncodedImageFormat.Png)));
        for (int x = 0; x < 4; x++)
            Assert.Equal((values[x], values[x], values[x]), image[x, 0]);
    }

    [Fact]
    public void PalettePngBecomesItsPaletteColours()
    {
        // Colour type 3, 8 bits: palette entries 0 = (250, 5, 5), 1 = (1, 2, 3), 2 = (40, 200, 90).
        byte[] palette = [250, 5, 5, 1, 2, 3, 40, 200, 90];
        var png = Png(3, 2, 8, 3, [[0, 1, 2], [2, 2, 0]], palette);
        var image = ImageLoader.Load(Write(_dir, "pal.png", png));
        Assert.Equal(((byte)250, (byte)5, (byte)5), image[0, 0]);
        Assert.Equal(((byte)1, (byte)2, (byte)3), image[1, 0]);
        Assert.Equal(((byte)40, (byte)200, (byte)90), image[2, 0]);
        Assert.Equal(((byte)40, (byte)200, (byte)90), image[0, 1]);
        Assert.Equal(((byte)250, (byte)5, (byte)5), image[2, 1]);
    }

    [Fact]
    public void SixteenBitPngBecomesEightBit()
    {
        // Colour type 2, 16 bits: 0xFFFF -> 255, 0x0000 -> 0, 0x8080 -> 128 (by the high byte or by
        // scaling 32896 * 255 / 65535 = 128 exactly).
        var png = Png(1, 1, 16, 2, [[0xFF, 0xFF, 0x00, 0x00, 0x80, 0x80]]);
        var image = ImageLoader.Load(Write(_dir, "deep.png", png));
        Assert.Equal(((byte)255, (byte)0, (byte)128), image[0, 0]);
    }

    [Fact]
    public void SixteenBitGrayPngBecomesEqualRgbChannels()
    {
        var png = Png(2, 1, 16, 0, [[0xFF, 0xFF, 0x80, 0x80]]);
        var image = ImageLoader.Load(Write(_dir, "gray16.png", png));
        Assert.Equal(((byte)255, (byte)255, (byte)255), image[0, 0]);
        Assert.Equal(((byte)128, (byte)128, (byte)128), image[1, 0]);
    }

    [Fact]
    public void TranslucentPixelsKeepTheirStoredColour()
    {
        // Colour type 6 (RGBA): (200, 100, 50) at alpha 128 and (9, 8, 7) at alpha 0 come out as stored.
        var png = Png(2, 1, 8, 6, [[200, 100, 50, 128, 9, 8, 7, 0]]);
        var image = ImageLoader.Load(Write(_dir, "alpha.png", png));
        Assert.Equal(((byte)200, (byte)100, (byte)50), image[0, 0]);
        Assert.Equal(((byte)9, (byte)8, (byte)7), image[1, 0]);
    }

    // A 48x32 JPEG whose stored top-left 16x16 block is red and the rest blue, tagged with each EXIF
    // orientation. Where the red block must appear once the image is upright (EXIF 2.3, tag 0x0112):
    // 1 as stored; 2 mirrored (top-right); 3 turned 180 (bottom-right); 4 flipped (bottom-left);
    // 5..8 swap width and height to 32x48: 5 transposed (top-left), 6 turned clockwise (top-right),
    // 7 transversed (bottom-right), 8 turned anticlockwise (bottom-left).
    [Theory]
    [InlineData(1, 48, 32, 0, 0)]
    [InlineData(2, 48, 32, 32, 0)]
    [InlineData(3, 48, 32, 32, 16)]
    [InlineData(4, 48, 32, 0, 16)]
    [InlineData(5, 32, 48, 0, 0)]
    [InlineData(6, 32, 48, 16, 0)]
    [InlineData(7, 32, 48, 16, 32)]
    [InlineData(8, 32, 48, 0, 32)]
    public void ExifOrientationIsApplied(int orientation, int width, int height, int redX, int redY)
    {
        using var bitmap = Bitmap(48, 32, (x, y) => x < 16 && y < 16 ? ((byte)255, (byte)0, (byte)0) : ((byte)0, (byte)0, (byte)255));
        var jpeg = WithExifOrientation(Encode(bitmap, SKEncodedImageFormat.Jpeg), orientation);
        var image = ImageLoader.Load(Write(_dir, $"o{orientation}.jpg", jpeg));
        Assert.Equal((width, height), (image.Width, image.Height));
        for (int by = 0; by < height; by += 16)
        {
            for (int bx = 0; bx < width; bx += 16)
            {
                var expected = (bx, by) == (redX, redY) ? (255, 0, 0) : (0, 0, 255);
                AssertClose(expected, image[bx + 8, by + 8], 6);
            }
        }
    }

    [Fact]
    public void ImageOverThePixelLimitIsRefused()
    {
        using var bitmap = Bitmap(100, 50, (_, _) => (1, 2, 3));
        string path = Write(_dir, "big.png", Encode(bitmap, SKEncodedImageFormat.Png));
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path, maxPixels: 4999));
        Assert.Contains("100x50", e.Message);
        Assert.Contains("4999", e.Message);
        Assert.Equal(5000, ImageLoader.Load(path, maxPixels: 5000).Width * 50);
    }

    [Fact]
    public void PixelLimitIsCheckedBeforeDecoding()
    {
        // The header claims 60000x60000 (3.6e9 pixels) but there is no pixel data at all: only a check
        // of the header's size can give the limit message instead of a truncation error.
        var png = Png(60000, 60000, 8, 2, []);
        string path = Write(_dir, "huge.png", png);
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path));
        Assert.Contains("60000x60000", e.Message);
        Assert.Contains(ImageLoader.DefaultMaxPixels.ToString(), e.Message);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        string path = Path.Combine(_dir, "nothing.png");
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void FolderIsReported()
    {
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(_dir));
        Assert.Contains(_dir, e.Message);
    }

    [Fact]
    public void EmptyFileIsReported()
    {
        string path = Write(_dir, "empty.png", []);
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void GarbageIsReported()
    {
        string path = Write(_dir, "text.jpg", "this is not an image at all, just some words"u8.ToArray());
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a supported image", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void TruncatedFileIsReported(SKEncodedImageFormat format)
    {
        var random = new Random(7);
        using var bitmap = Bitmap(64, 64, (_, _) => ((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        var bytes = Encode(bitmap, format);
        string path = Write(_dir, "cut." + format, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CnnFixationsException>(() => ImageLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void SamplePhotoHasTheSizeItsHeaderGives()
    {
        string path = Path.Combine(TestPaths.Samples, "cat.png");
        var header = File.ReadAllBytes(path).AsSpan(16, 8);
        int width = BinaryPrimitives.ReadInt32BigEndian(header), height = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        var image = ImageLoader.Load(path);
        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal(3 * width * height, image.Pixels.Length);
    }

    private static void AssertClose((int R, int G, int B) expected, (byte R, byte G, byte B) actual, int tolerance)
    {
        Assert.True(Math.Abs(expected.R - actual.R) <= tolerance && Math.Abs(expected.G - actual.G) <= tolerance && Math.Abs(expected.B - actual.B) <= tolerance,
            $"expected about {expected}, got {actual}");
    }
}
