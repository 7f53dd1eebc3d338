using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

public class ColormapTests
{
    [Theory]
    // Dark blue, blue, cyan, green-ish middle, yellow, red, dark red: each channel is a tent
    // 1.5 - 4|v - peak| clipped to [0, 1] (peaks: red 3/4, green 1/2, blue 1/4), times 255, rounded.
    [InlineData(0f, 0, 0, 128)]
    [InlineData(0.125f, 0, 0, 255)]
    [InlineData(0.375f, 0, 255, 255)]
    [InlineData(0.5f, 128, 255, 128)]
    [InlineData(0.625f, 255, 255, 0)]
    [InlineData(0.875f, 255, 0, 0)]
    [InlineData(1f, 128, 0, 0)]
    [InlineData(-3f, 0, 0, 128)]
    [InlineData(7f, 128, 0, 0)]
    public void JetHasTheClassicStops(float v, int r, int g, int b)
    {
        Assert.Equal(((byte)r, (byte)g, (byte)b), Colormap.Jet(v));
    }

    [Theory]
    [InlineData(ColormapKind.Viridis, 0f, 68, 1, 84)]     // matplotlib's table: #440154
    [InlineData(ColormapKind.Viridis, 0.5f, 33, 145, 140)] // #21918c
    [InlineData(ColormapKind.Viridis, 1f, 253, 231, 37)]  // #fde725
    public void Perceptual_scales_are_close_to_their_published_tables(ColormapKind kind, float v, int r, int g, int b)
    {
        var c = Colormap.Map(kind, v);
        Assert.True(Math.Abs(c.R - r) <= 6 && Math.Abs(c.G - g) <= 6 && Math.Abs(c.B - b) <= 6, $"{kind}({v}) = {c}, table ({r}, {g}, {b})");
    }

    [Fact]
    public void Viridis_gets_lighter_all_along()
    {
        double Luma((byte R, byte G, byte B) c) => 0.2126 * c.R + 0.7152 * c.G + 0.0722 * c.B;
        double previous = -1;
        for (int i = 0; i <= 100; i++)
        {
            double l = Luma(Colormap.Viridis(i / 100f));
            Assert.True(l > previous, $"viridis luma falls at {i / 100.0}");
            previous = l;
        }
        // turbo runs dark blue, cyan, green, orange, dark red
        var (q, h, t) = (Colormap.Turbo(0.25f), Colormap.Turbo(0.5f), Colormap.Turbo(0.75f));
        Assert.True(q.B > q.R && h.G > h.R && h.G > h.B && t.R > t.G && t.R > t.B, $"turbo {q} {h} {t}");
        Assert.Equal(ColormapKind.Turbo, Colormap.Parse("TURBO"));
        Assert.Null(Colormap.Parse("rainbow"));
        Assert.Equal(Colormap.Jet(0.3f), Colormap.Map(ColormapKind.Jet, 0.3f));
    }
}
