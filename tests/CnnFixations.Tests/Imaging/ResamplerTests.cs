using CnnFixations.Imaging;

namespace CnnFixations.Tests.Imaging;

public class ResamplerTests
{
    /// <summary>The Lanczos kernel, a = 3, written out for the hand computations below.</summary>
    private static double L(double x) =>
        x == 0 ? 1 : Math.Abs(x) >= 3 ? 0 : 3 * Math.Sin(Math.PI * x) * Math.Sin(Math.PI * x / 3) / (Math.PI * Math.PI * x * x);

    private static readonly byte[] Pattern = [10, 200, 30, 90, 250, 0, 120, 60, 180, 40, 220, 5];

    private static RgbImage Gray(int width, int height, byte[] values) =>
        new(width, height, values.SelectMany(v => new[] { v, v, v }).ToArray());

    [Theory]
    [InlineData(37, 23, 11, 7)]
    [InlineData(5, 4, 13, 9)]
    [InlineData(10, 10, 3, 17)]
    public void ConstantImageStaysConstant(int w, int h, int outW, int outH)
    {
        var src = new RgbImage(w, h, Enumerable.Range(0, w * h).SelectMany(_ => new byte[] { 173, 0, 255 }).ToArray());
        var dst = Resampler.Resize(src, outW, outH);
        Assert.Equal((outW, outH), (dst.Width, dst.Height));
        for (int i = 0; i < outW * outH; i++)
            Assert.Equal(((byte)173, (byte)0, (byte)255), dst[i % outW, i / outW]);
    }

    [Fact]
    public void SameSizeReturnsTheSamePixels()
    {
        var src = new RgbImage(3, 2, Enumerable.Range(0, 18).Select(i => (byte)(i * 13)).ToArray());
        var dst = Resampler.Resize(src, 3, 2);
        Assert.Equal(src.Pixels, dst.Pixels);
    }

    [Fact]
    public void HalvingMatchesHandComputedLanczosWeights()
    {
        // 12 -> 6 samples: scale 2, so the kernel is stretched 2x (support 6). Output 2 is centred on
        // input coordinate (2 + 0.5) * 2 = 5; it reads inputs k = (int)(5 - 6 + 0.5) = 0 .. (int)(5 + 6 + 0.5) - 1 = 10
        // with weights L((k + 0.5 - 5) / 2), normalized: 0.015112, -0.034125, -0.066884, 0.136007,
        // 0.448038, 0.448038, 0.136007, -0.066884, -0.034125, 0.015112, 0.003703; the sum over the
        // pattern is 123.154, so 123.
        var weights = Enumerable.Range(0, 11).Select(k => L((k + 0.5 - 5) / 2)).ToArray();
        double sum = weights.Sum();
        double value = Enumerable.Range(0, 11).Sum(k => weights[k] / sum * Pattern[k]);
        Assert.Equal(123.154, value, 3);

        var row = Resampler.Resize(Gray(12, 1, Pattern), 6, 1);
        Assert.Equal(((byte)123, (byte)123, (byte)123), row[2, 0]);
        // The same along y exercises the vertical pass.
        var column = Resampler.Resize(Gray(1, 12, Pattern), 1, 6);
        Assert.Equal(((byte)123, (byte)123, (byte)123), column[0, 2]);
    }

    [Fact]
    public void EnlargingUsesTheUnstretchedKernel()
    {
        // 4 -> 8 samples: scale 0.5, support 3. Output 3 is centred on (3 + 0.5) * 0.5 = 1.75 and reads
        // inputs 0..3 with weights L(k + 0.5 - 1.75) = L(-1.25), L(-0.25), L(0.75), L(1.75), normalized
        // -0.138466, 0.927545, 0.281567, -0.070646: over (0, 100, 200, 50) that is 145.536, so 146.
        var weights = Enumerable.Range(0, 4).Select(k => L(k + 0.5 - 1.75)).ToArray();
        double value = (weights[1] * 100 + weights[2] * 200 + weights[3] * 50) / weights.Sum();
        Assert.Equal(145.536, value, 3);
        var up = Resampler.Resize(Gray(4, 1, [0, 100, 200, 50]), 8, 1);
        Assert.Equal((byte)146, up[3, 0].R);
    }

    [Fact]
    public void ResultsAreClampedToBytes()
    {
        // A sharp edge overshoots (negative lobes); the result must stay within 0..255, not wrap.
        var edge = Gray(8, 1, [0, 0, 0, 0, 255, 255, 255, 255]);
        var up = Resampler.Resize(edge, 16, 1);
        Assert.Equal(0, up[0, 0].R);
        Assert.Equal(255, up[15, 0].R);
        Assert.True(up[6, 0].R < up[9, 0].R);
    }

    [Fact]
    public void CropTakesTheRectangle()
    {
        var src = new RgbImage(3, 3, Enumerable.Range(0, 27).Select(i => (byte)i).ToArray());
        var crop = Resampler.Crop(src, 1, 1, 2, 2);
        // Pixels (1,1), (2,1), (1,2), (2,2) start at bytes 12, 15, 21, 24.
        Assert.Equal(new byte[] { 12, 13, 14, 15, 16, 17, 21, 22, 23, 24, 25, 26 }, crop.Pixels);
        Assert.Throws<CnnFixationsException>(() => Resampler.Crop(src, 2, 0, 2, 1));
    }

    [Fact]
    public void MirrorSwapsLeftAndRight()
    {
        var src = new RgbImage(3, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        Assert.Equal(new byte[] { 7, 8, 9, 4, 5, 6, 1, 2, 3 }, Resampler.MirrorHorizontal(src).Pixels);
    }

    [Fact]
    public void ZeroSizeIsRefused()
    {
        Assert.Throws<CnnFixationsException>(() => Resampler.Resize(new RgbImage(1, 1, [1, 2, 3]), 0, 5));
    }
}
