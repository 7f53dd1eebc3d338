using System.Diagnostics;
using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

public class HeatMapTests
{
    [Fact]
    public void SinglePointIsAGaussianWithPeakOne()
    {
        // sigma 5 (radius ceil(15) = 15) at (50, 50) of a 101x101 map: exp(-d^2 / 50) separably.
        var map = HeatMap.FromPoints([(50, 50)], 101, 101, sigma: 5);
        float At(int x, int y) => map[y * 101 + x];
        Assert.Equal(1f, At(50, 50));
        Assert.Equal(Math.Exp(-0.5), At(55, 50), 6);   // one sigma along x
        Assert.Equal(Math.Exp(-0.5), At(50, 45), 6);   // one sigma along y
        Assert.Equal(Math.Exp(-1.0), At(55, 55), 6);   // one sigma along both
        Assert.Equal(Math.Exp(-4.5), At(65, 50), 6);   // 15 = the radius: still inside
        Assert.Equal(0f, At(66, 50));                  // 16: outside the kernel
        Assert.Equal(0f, At(0, 0));
    }

    [Fact]
    public void KernelIsTruncatedAtTheBorderNotRenormalized()
    {
        // A point in the corner loses three quarters of its kernel; renormalizing would make it about
        // four times the centre point. Truncated, both peaks are equal.
        var map = HeatMap.FromPoints([(0, 0), (50, 50)], 101, 101, sigma: 5);
        Assert.Equal(1f, map[0]);
        Assert.Equal(1f, map[50 * 101 + 50]);
        Assert.Equal(Math.Exp(-0.5), map[5], 6);
    }

    [Fact]
    public void PointsCountPerPixel()
    {
        // Two points on (10, 10), one on (80, 80), far apart: peaks 2 and 1, normalized to 1 and 0.5.
        var map = HeatMap.FromPoints([(10, 10), (80, 80), (10, 10)], 100, 100, sigma: 3);
        Assert.Equal(1f, map[10 * 100 + 10]);
        Assert.Equal(0.5f, map[80 * 100 + 80]);
    }

    [Fact]
    public void NearbyPointsAdd()
    {
        // Points at x = 20 and x = 24 on row 5 (sigma 2, so weights exp(-d^2 / 8)): the midpoint x = 22
        // gets 2 e^-0.5 = 1.2131, the maximum (x = 21 gets e^-0.125 + e^-1.125 = 1.2072); x = 20 gets
        // 1 + e^-2 = 1.1353, so 1.1353 / 1.2131 after normalizing.
        var map = HeatMap.FromPoints([(20, 5), (24, 5)], 50, 11, sigma: 2);
        double mid = 2 * Math.Exp(-0.5), side = 1 + Math.Exp(-2);
        Assert.Equal(1f, map[5 * 50 + 22]);
        Assert.Equal(side / mid, map[5 * 50 + 20], 6);
    }

    [Fact]
    public void PointsOutsideAreIgnoredAndNoPointsGiveZeros()
    {
        var map = HeatMap.FromPoints([(-1, 3), (3, 10), (10, 3)], 10, 10, sigma: 1);
        Assert.All(map, v => Assert.Equal(0f, v));
        Assert.Equal(100, map.Length);
    }

    [Fact]
    public void LargeMapIsFast()
    {
        var random = new Random(3);
        var points = Enumerable.Range(0, 5000).Select(_ => (random.Next(1000), random.Next(1000))).ToList();
        HeatMap.FromPoints(points.Take(10).ToList(), 100, 100); // warm up
        var sw = Stopwatch.StartNew();
        var map = HeatMap.FromPoints(points, 1000, 1000, sigma: 20);
        sw.Stop();
        Assert.Equal(1f, map.Max());
        Assert.True(sw.Elapsed.TotalSeconds < 2, $"took {sw.Elapsed.TotalSeconds:F2} s");
    }

    [Fact]
    public void NegativeSigmaIsRefused()
    {
        Assert.Throws<CnnFixationsException>(() => HeatMap.FromPoints([(1, 1)], 5, 5, sigma: -1));
    }
}
