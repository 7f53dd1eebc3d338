using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Tests.Cli;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Maps;

/// <summary><c>--borders even</c>: each blur divided by the share of its Gaussian inside the image. Expected values are hand computed.</summary>
public class EvenBordersTests
{
    [Fact]
    public void The_inside_share_counts_the_kernel_taps_that_land_in_the_image()
    {
        // kernel 1, 2, 1 (sum 4): at either end one tap falls outside (3/4 inside); in the middle all; on a
        // one-pixel axis only the centre tap (2/4).
        var kernel = new[] { 1.0, 2.0, 1.0 };
        Assert.Equal(new[] { 0.75, 1.0, 0.75 }, HeatMap.InsideShares(3, kernel));
        Assert.Equal(new[] { 0.5 }, HeatMap.InsideShares(1, kernel));
        // kernel 1, 2, 3, 2, 1 (sum 9) on 2 pixels: position 0 keeps the taps d = 0, 1 (3 + 2), position 1 d = -1, 0 (2 + 3).
        Assert.Equal(new[] { 5.0 / 9, 5.0 / 9 }, HeatMap.InsideShares(2, new[] { 1.0, 2.0, 3.0, 2.0, 1.0 }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_even_weight_stays_even_up_to_the_edges_only_when_asked(bool coarse)
    {
        const int width = 120, height = 90;
        var points = new List<(int X, int Y)>();
        var weights = new List<double>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) { points.Add((x, y)); weights.Add(1); }
        float[] Map(bool even) => coarse
            ? HeatMap.FromWeightedPointsCoarse(points, weights, width, height, 24, even)
            : HeatMap.FromWeightedPoints(points, weights, width, height, 6, even);
        var even = Map(true);
        Assert.True(even.Min() > 0.99f, $"lowest {even.Min()}");
        // The plain blur keeps about a quarter at a corner (half of the Gaussian outside along each axis).
        var fade = Map(false);
        Assert.InRange(fade[0], 0.2f, 0.3f);
        Assert.Equal(1f, fade.Max(), 5);
    }

    [Fact]
    public void The_command_line_takes_even_and_fade_and_refuses_anything_else()
    {
        string photo = Path.Combine(TestPaths.Samples, "bird.png");
        string fadeDir = TestPaths.NewTempDir(), evenDir = TestPaths.NewTempDir();
        // without the extent floor, which lifts the borders of both maps
        var fade = CliRunner.Run("explain", photo, "--out", fadeDir, "--extent-floor", "0", "-q");
        var even = CliRunner.Run("explain", photo, "--out", evenDir, "--borders", "even", "--extent-floor", "0", "-q");
        Assert.True(fade.ExitCode == 0 && even.ExitCode == 0, fade.Stderr + even.Stderr);
        var (_, a) = NpyFile.ReadFloat32(Path.Combine(fadeDir, "bird.heatmap.npy"));
        var (_, b) = NpyFile.ReadFloat32(Path.Combine(evenDir, "bird.heatmap.npy"));
        Assert.Equal(a.Length, b.Length);
        // The even map is lifted at the border: its mean over the outer rows is above the faded map's.
        Assert.True(b.Take(1000).Average() > a.Take(1000).Average(), "the top rows are not lifted");
        var bad = CliRunner.Run("explain", photo, "--borders", "sharp");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("'sharp' not recognized", bad.Stderr);
        Assert.Contains("'even'", bad.Stderr);
    }
}
