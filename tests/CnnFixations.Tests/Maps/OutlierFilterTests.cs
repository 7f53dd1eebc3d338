using System.Diagnostics;
using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

public class OutlierFilterTests
{
    /// <summary>The definition, pair by pair.</summary>
    private static bool[] BruteForce(IReadOnlyList<(int X, int Y)> points, int w, int h, double radiusFraction, double minFraction)
    {
        double r = radiusFraction * Math.Sqrt((double)w * w + (double)h * h);
        var keep = new bool[points.Count];
        for (int i = 0; i < points.Count; i++)
        {
            int near = 0;
            foreach (var q in points)
            {
                double dx = points[i].X - q.X, dy = points[i].Y - q.Y;
                if (Math.Sqrt(dx * dx + dy * dy) < r) near++;
            }
            keep[i] = near > minFraction * points.Count;
        }
        return keep;
    }

    [Fact]
    public void HandCase()
    {
        // 30x40 image: diagonal 50, r = 0.1 * 50 = 5. N = 5, fraction 0.6: more than 3 points within r.
        // A(10,10)-B(12,10) = 2, A-C(10,13) = 3, B-C = 3.61, B-D(13,14) = 4.12, C-D = 3.16, A-D = 5 (not < 5).
        // Counts (self included): A 3, B 4, C 4, D 3, E(29,39) 1.
        (int, int)[] points = [(10, 10), (12, 10), (10, 13), (13, 14), (29, 39)];
        Assert.Equal(new[] { false, true, true, false, false }, OutlierFilter.Keep(points, 30, 40, 0.1, 0.6));
        // With fraction 0.5 (more than 2.5) A and D are kept too.
        Assert.Equal(new[] { true, true, true, true, false }, OutlierFilter.Keep(points, 30, 40, 0.1, 0.5));
    }

    [Fact]
    public void DuplicatesCountSeparately()
    {
        // Three copies of one point and one far away: the copies see 3 > 0.5 * 4 points each, the other 1.
        (int, int)[] points = [(5, 5), (5, 5), (5, 5), (95, 95)];
        Assert.Equal(new[] { true, true, true, false }, OutlierFilter.Keep(points, 100, 100, 0.1, 0.5));
    }

    [Fact]
    public void EmptyInputGivesEmptyOutput()
    {
        Assert.Empty(OutlierFilter.Keep(Array.Empty<(int, int)>(), 10, 10));
    }

    [Theory]
    [InlineData(1, 0.1, 0.05)]
    [InlineData(2, 0.02, 0.01)]
    [InlineData(3, 0.5, 0.3)]
    [InlineData(4, 0.0, 0.0)]
    [InlineData(5, 3.0, 0.9)]
    [InlineData(6, 0.07, 0.0)]
    [InlineData(7, 0.1, 0.05)]
    public void MatchesTheDefinitionOnRandomPoints(int seed, double radiusFraction, double minFraction)
    {
        var random = new Random(seed);
        int w = 50 + random.Next(400), h = 50 + random.Next(400);
        var points = new List<(int X, int Y)>();
        // Clusters with duplicates, scattered points, and a few points outside the image.
        for (int c = 0; c < 5; c++)
        {
            int cx = random.Next(w), cy = random.Next(h), spread = 1 + random.Next(40);
            for (int i = 0; i < 150; i++)
                points.Add((cx + random.Next(-spread, spread + 1), cy + random.Next(-spread, spread + 1)));
        }
        for (int i = 0; i < 200; i++) points.Add((random.Next(-20, w + 20), random.Next(-20, h + 20)));
        for (int i = 0; i < 100; i++) points.Add(points[random.Next(points.Count)]);
        Assert.Equal(BruteForce(points, w, h, radiusFraction, minFraction), OutlierFilter.Keep(points, w, h, radiusFraction, minFraction));
    }

    [Fact]
    public void DistancesOnTheRadiusAreExcludedExactly()
    {
        // 3-4-5 triangles on a 60x80 image (diagonal 100, r = 5 with fraction 0.05): every pair is exactly 5 apart.
        (int, int)[] points = [(0, 0), (3, 4), (6, 0)];
        Assert.Equal(BruteForce(points, 60, 80, 0.05, 0.4), OutlierFilter.Keep(points, 60, 80, 0.05, 0.4));
        Assert.Equal(new[] { false, false, false }, OutlierFilter.Keep(points, 60, 80, 0.05, 0.4));
    }

    [Fact]
    public void FiftyThousandClusteredPointsAreFast()
    {
        var random = new Random(11);
        var points = new List<(int X, int Y)>();
        for (int i = 0; i < 50_000; i++)
            points.Add((500 + (int)(random.NextDouble() * random.NextDouble() * 300), 400 + (int)(random.NextDouble() * 250)));
        var sw = Stopwatch.StartNew();
        var keep = OutlierFilter.Keep(points, 1200, 900);
        sw.Stop();
        Assert.Equal(50_000, keep.Length);
        Assert.True(sw.Elapsed.TotalSeconds < 5, $"took {sw.Elapsed.TotalSeconds:F2} s");
    }
}
