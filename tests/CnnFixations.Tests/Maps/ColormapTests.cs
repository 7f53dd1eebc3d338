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
}
