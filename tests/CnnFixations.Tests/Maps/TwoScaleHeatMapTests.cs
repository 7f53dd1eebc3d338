using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

/// <summary>The two-scale heat map of the weighted rules: the mix, and the coarse blur on a cell grid against the full-resolution blur.</summary>
public class TwoScaleHeatMapTests
{
    private static (List<(int X, int Y)> Points, List<double> Weights) RandomPoints(int width, int height, int seed)
    {
        var random = new Random(seed);
        var points = new List<(int X, int Y)>();
        var weights = new List<double>();
        for (int i = 0; i < 3000; i++)
        {
            // an object (a dense, heavy patch) on a light background
            bool inObject = i % 3 == 0;
            int x = inObject ? 90 + random.Next(60) : random.Next(width);
            int y = inObject ? 50 + random.Next(40) : random.Next(height);
            points.Add((x, y));
            weights.Add(random.NextDouble() * (inObject ? 5 : 1));
        }
        return (points, weights);
    }

    [Theory]
    [InlineData(16.0)]
    [InlineData(40.0)]
    [InlineData(75.0)]
    public void The_coarse_blur_on_cells_stays_within_4_percent_of_the_full_blur(double sigma)
    {
        var (points, weights) = RandomPoints(301, 203, 5);
        var full = HeatMap.FromWeightedPoints(points, weights, 301, 203, sigma);
        var coarse = HeatMap.FromWeightedPointsCoarse(points, weights, 301, 203, sigma);
        Assert.Equal(full.Length, coarse.Length);
        double worst = full.Select((v, i) => (double)Math.Abs(v - coarse[i])).Max();
        Assert.True(worst < 0.04, $"largest difference {worst:G3} of the maximum");
        Assert.Equal(1f, coarse.Max(), 6);
    }

    [Fact]
    public void Below_sigma_16_the_coarse_blur_is_the_full_blur()
    {
        var (points, weights) = RandomPoints(200, 150, 6);
        Assert.Equal(HeatMap.FromWeightedPoints(points, weights, 200, 150, 12), HeatMap.FromWeightedPointsCoarse(points, weights, 200, 150, 12));
    }

    [Fact]
    public void The_mix_weighs_the_two_maps_and_renormalizes()
    {
        // (1 - 0.25) * fine + 0.25 * coarse = [0.75, 0.25, 0.5 * 0.75 + 0.25 * 0.5 = 0.5], max 0.75
        var mixed = HeatMap.Mix(new[] { 1f, 0f, 0.5f }, new[] { 0f, 1f, 0.5f }, 0.25);
        Assert.Equal(new[] { 1f, 1f / 3, 2f / 3 }, mixed.Select(v => (float)Math.Round(v, 6)).ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(new float[3], HeatMap.Mix(new float[3], new float[3], 0.5));
        Assert.Throws<CnnFixationsException>(() => HeatMap.Mix(new float[1], new float[1], 1.5));
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float v) => 0;
    }
}
