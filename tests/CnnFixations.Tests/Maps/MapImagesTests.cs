using CnnFixations.Imaging;
using CnnFixations.Maps;
using SkiaSharp;

namespace CnnFixations.Tests.Maps;

public class MapImagesTests
{
    private static SKBitmap Decode(byte[] png)
    {
        var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        return bitmap;
    }

    private static RgbImage Gray(int w, int h, byte v) => new(w, h, Enumerable.Repeat(v, 3 * w * h).ToArray());

    [Fact]
    public void OverlayBlendsJetOverTheImageAndDrawsBoxAndPoints()
    {
        // Heat 0 everywhere: jet(0) = (0, 0, 128) over gray 100 at alpha 0.5 gives (50, 50, 114).
        var image = Gray(60, 40, 100);
        var png = MapImages.OverlayPng(image, new float[60 * 40], [10, 10, 49, 29], [(30, 20)], 0.5);
        using var bitmap = Decode(png);
        Assert.Equal((60, 40), (bitmap.Width, bitmap.Height));
        Assert.Equal(new SKColor(50, 50, 114), bitmap.GetPixel(3, 3));
        // The box's top edge (y = 10) is drawn green; the dot at (30, 20) white.
        var edge = bitmap.GetPixel(30, 10);
        Assert.True(edge.Green > 200 && edge.Red < 50 && edge.Blue < 50, $"box edge is {edge}");
        Assert.Equal(SKColors.White, bitmap.GetPixel(30, 20));
        // Inside the box, away from the dot, the blend is untouched.
        Assert.Equal(new SKColor(50, 50, 114), bitmap.GetPixel(20, 20));
    }

    /// <summary>Overlays of 64 pixels or more each way carry a colour bar in the bottom-left corner, in their colour scale.</summary>
    [Fact]
    public void OverlayCarriesAColourBarInItsScale()
    {
        var image = Gray(200, 100, 100);
        using var jet = Decode(MapImages.OverlayPng(image, new float[200 * 100], null, [], 0.5));
        using var viridis = Decode(MapImages.OverlayPng(image, new float[200 * 100], null, [], 0.5, ColormapKind.Viridis));
        // 100 px: margin 2, cell 1, pad 2, bar 5 px high, 25 px long starting at x = 2 + 2 + 3 + 2 = 9, rows 91..95.
        var low = jet.GetPixel(9, 93);
        var high = jet.GetPixel(9 + 24, 93);
        Assert.Equal(Colormap.Jet(0f), (low.Red, low.Green, low.Blue));
        Assert.Equal(Colormap.Jet(1f), (high.Red, high.Green, high.Blue));
        var v = viridis.GetPixel(9 + 24, 93);
        Assert.Equal(Colormap.Viridis(1f), (v.Red, v.Green, v.Blue));
        Assert.Equal(new SKColor(24, 24, 24), jet.GetPixel(3, 90)); // the backing
        Assert.Equal(SKColors.White, jet.GetPixel(4, 91));          // the "0"'s top-left block
        // above the legend, the plain blend
        Assert.Equal(new SKColor(50, 50, 114), jet.GetPixel(9, 80));
        // a small overlay gets none
        using var small = Decode(MapImages.OverlayPng(Gray(60, 40, 100), new float[60 * 40], null, [], 0.5));
        Assert.Equal(new SKColor(50, 50, 114), small.GetPixel(10, 35));
    }

    [Fact]
    public void OverlayOfFullHeatIsDarkRedBlend()
    {
        // jet(1) = (128, 0, 0); alpha 1 shows only the colour map.
        var png = MapImages.OverlayPng(Gray(4, 4, 200), Enumerable.Repeat(1f, 16).ToArray(), null, [], 1.0);
        using var bitmap = Decode(png);
        Assert.Equal(new SKColor(128, 0, 0), bitmap.GetPixel(1, 2));
    }

    [Fact]
    public void OverlayIsDeterministic()
    {
        var random = new Random(5);
        var image = new RgbImage(50, 30, Enumerable.Range(0, 4500).Select(_ => (byte)random.Next(256)).ToArray());
        var heat = Enumerable.Range(0, 1500).Select(_ => (float)random.NextDouble()).ToArray();
        (int, int)[] points = [(1, 1), (25, 15), (49, 29)];
        Assert.Equal(MapImages.OverlayPng(image, heat, [2, 3, 40, 20], points), MapImages.OverlayPng(image, heat, [2, 3, 40, 20], points));
    }

    [Fact]
    public void OverlayRefusesAHeatMapOfTheWrongSize()
    {
        Assert.Throws<CnnFixationsException>(() => MapImages.OverlayPng(Gray(4, 4, 0), new float[15], null, []));
    }

    [Fact]
    public void GrayPngIsAnEightBitGrayscalePng()
    {
        var png = MapImages.GrayPng([0f, 0.2f, 0.5f, 1f, 2f, -1f], 3, 2);
        // IHDR data starts at byte 16: width, height (4 bytes each), bit depth, colour type (0 = gray).
        Assert.Equal(8, png[24]);
        Assert.Equal(0, png[25]);
        using var bitmap = Decode(png);
        Assert.Equal((3, 2), (bitmap.Width, bitmap.Height));
        // round(255 v): 0, 51, 127.5 -> 128, 255; clamped: 255, 0.
        byte[] expected = [0, 51, 128, 255, 255, 0];
        for (int i = 0; i < 6; i++)
            Assert.Equal(expected[i], bitmap.GetPixel(i % 3, i / 3).Red);
    }

    [Fact]
    public void EncodedPngLoadsBackExactly()
    {
        var image = new RgbImage(2, 2, [255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3]);
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "x.png");
            File.WriteAllBytes(path, MapImages.EncodePng(image));
            Assert.Equal(image.Pixels, ImageLoader.Load(path).Pixels);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
