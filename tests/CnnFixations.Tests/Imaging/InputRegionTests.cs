using CnnFixations.Imaging;

namespace CnnFixations.Tests.Imaging;

public class InputRegionTests
{
    [Theory]
    // A 224 input of a 448 image: floor((x + 0.5) * 2) = 2x + 1.
    [InlineData(448, 0, 1)]
    [InlineData(448, 223, 447)]
    // A 224 input of a 112 image (enlarged): floor((x + 0.5) / 2): 0 -> 0, 1 -> 0, 2 -> 1, 223 -> 111.
    [InlineData(112, 0, 0)]
    [InlineData(112, 1, 0)]
    [InlineData(112, 2, 1)]
    [InlineData(112, 223, 111)]
    // floor(100.5 * 300 / 224) = floor(134.598) = 134.
    [InlineData(300, 100, 134)]
    public void WholeImageMapsInputCentresToImagePixels(int size, int x, int expected)
    {
        var region = new InputRegion(0, 0, size, size, false);
        Assert.Equal((expected, expected), region.MapToImage(x, x, 224, 224));
    }

    [Fact]
    public void ExactIntegerResultsAreNotRoundedDown()
    {
        // (1 + 0.5) * 1000 / 3 = 500 exactly; 1.5 * (1000 / 3.0) in floating point is 499.99999...
        var region = new InputRegion(0, 0, 1000, 10, false);
        Assert.Equal(500, region.MapToImage(0, 1, 1, 3).X);
    }

    [Fact]
    public void CropOffsetIsAdded()
    {
        // A 224x224 crop at (16, 32) shown 1:1: pixel (y=7, x=5) is image (21, 39).
        var region = new InputRegion(16, 32, 224, 224, false);
        Assert.Equal((21, 39), region.MapToImage(7, 5, 224, 224));
    }

    [Fact]
    public void RectangularRegionScalesEachAxis()
    {
        // 640x480 image into a 224x112 (w x h) input: X = floor((x + 0.5) * 640 / 224), Y = floor((y + 0.5) * 480 / 112).
        // x = 10: 10.5 * 640 / 224 = 30; y = 3: 3.5 * 480 / 112 = 15.
        var region = new InputRegion(0, 0, 640, 480, false);
        Assert.Equal((30, 15), region.MapToImage(3, 10, 112, 224));
    }

    [Fact]
    public void MirroredInputCountsXFromTheRight()
    {
        // Input x = 0 shows the image's right edge: x becomes 223, then 2 * 223 + 1 = 447.
        var region = new InputRegion(0, 0, 448, 448, true);
        Assert.Equal((447, 1), region.MapToImage(0, 0, 224, 224));
        Assert.Equal((1, 1), region.MapToImage(0, 223, 224, 224));
    }

    [Fact]
    public void PixelOutsideTheInputIsRefused()
    {
        var region = new InputRegion(0, 0, 10, 10, false);
        Assert.Throws<CnnFixationsException>(() => region.MapToImage(0, 224, 224, 224));
        Assert.Throws<CnnFixationsException>(() => region.MapToImage(-1, 0, 224, 224));
    }
}
