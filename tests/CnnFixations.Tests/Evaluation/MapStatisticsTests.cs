using CnnFixations.Evaluation;

namespace CnnFixations.Tests.Evaluation;

public class MapStatisticsTests
{
    // 4x4, row-major:
    //  1 0 0 0
    //  0 2 0 0
    //  0 0 3 0
    //  0 0 0 -4
    private static readonly float[] Diagonal = { 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, -4 };

    [Fact]
    public void MassShareCountsOnlyPositiveValues()
    {
        // positive mass 6: top-left 2x2 holds 1 + 2, bottom-right holds 3 (the -4 is ignored).
        Assert.Equal(0.5, MapStatistics.MassShare(Diagonal, 4, new PixelRect(0, 0, 1, 1)), 12);
        Assert.Equal(0.5, MapStatistics.MassShare(Diagonal, 4, new PixelRect(2, 2, 3, 3)), 12);
        Assert.Equal(0.0, MapStatistics.MassShare(Diagonal, 4, new PixelRect(2, 0, 3, 1)), 12);
        Assert.Equal(1.0 / 6, MapStatistics.MassShare(Diagonal, 4, new PixelRect(0, 0, 0, 0)), 12);
        Assert.Equal(0.0, MapStatistics.MassShare(new float[16], 4, new PixelRect(0, 0, 3, 3)));
    }

    [Fact]
    public void PointOfIsTheFirstMaximumTheCentreForAFlatMapAndNothingForAZeroMap()
    {
        Assert.Equal((2, 2), MapStatistics.PointOf(Diagonal, 4, 4));
        Assert.Equal((1, 0), MapStatistics.PointOf(new float[] { 0, 5, 5, 1, 2, 3 }, 3, 2)); // first of two maxima, row-major
        var flat = new float[4 * 3];
        Array.Fill(flat, 0.7f);
        Assert.Equal((1, 1), MapStatistics.PointOf(flat, 4, 3)); // ((4-1)/2, (3-1)/2) rounded down
        Assert.Null(MapStatistics.PointOf(new float[12], 4, 3));
        Assert.Null(MapStatistics.PointOf(new float[] { -1, -2 }, 2, 1));
    }

    [Fact]
    public void MaxInTileUsesThePointAndTheTileRectangle()
    {
        // The 4x4 map's maximum (3 at x=2, y=2) lies in tile 3 (bottom right) of a 2x2 grid.
        var point = MapStatistics.PointOf(Diagonal, 4, 4)!.Value;
        Assert.Equal(3, GridPointingGame.TileAt(point.X, point.Y, 4, 4, 2));
        Assert.True(GridPointingGame.Tile(4, 4, 2, 1, 1).Contains(point.X, point.Y));
        Assert.False(GridPointingGame.Tile(4, 4, 2, 0, 0).Contains(point.X, point.Y));
    }

    [Fact]
    public void StrictPointingHasNoTolerance()
    {
        var boxes = new[] { new GroundTruthBox(7, 10, 10, 20, 20), new GroundTruthBox(8, 50, 50, 60, 60) };
        Assert.True(LocalizationMetrics.PointingHit(20, 20, boxes, 7, tolerance: 0));
        Assert.False(LocalizationMetrics.PointingHit(21, 20, boxes, 7, tolerance: 0));
        Assert.False(LocalizationMetrics.PointingHit(55, 55, boxes, 7, tolerance: 0)); // another class's box
        Assert.True(LocalizationMetrics.PointingHit(35, 20, boxes, 7));                // 15 px tolerance
        Assert.False(LocalizationMetrics.PointingHit(36, 20, boxes, 7));
    }

    [Fact]
    public void SmallObjectMeansEveryBoxOfTheClassUnderHalfTheImage()
    {
        // 100x100 image: half is 5000 pixels; a box covers (xmax - xmin + 1) x (ymax - ymin + 1).
        Assert.False(MapStatistics.IsSmallObject(new[] { new GroundTruthBox(1, 0, 0, 49, 99) }, 1, 100, 100)); // exactly 5000
        Assert.True(MapStatistics.IsSmallObject(new[] { new GroundTruthBox(1, 0, 0, 48, 99) }, 1, 100, 100));  // 4900
        Assert.False(MapStatistics.IsSmallObject(new[] { new GroundTruthBox(1, 0, 0, 9, 9), new GroundTruthBox(1, 0, 0, 99, 99) }, 1, 100, 100));
        Assert.True(MapStatistics.IsSmallObject(new[] { new GroundTruthBox(1, 0, 0, 9, 9), new GroundTruthBox(2, 0, 0, 99, 99) }, 1, 100, 100)); // other class ignored
        Assert.False(MapStatistics.IsSmallObject(new[] { new GroundTruthBox(2, 0, 0, 9, 9) }, 1, 100, 100)); // no box of the class
        Assert.Equal(25.0, MapStatistics.BoxArea(new GroundTruthBox(0, 1, 1, 5, 5)));
    }

    [Fact]
    public void PearsonMatchesHandValues()
    {
        Assert.Equal(1.0, MapStatistics.Pearson(new float[] { 1, 2, 3, 4 }, new float[] { 2, 4, 6, 8 }), 12);
        Assert.Equal(-1.0, MapStatistics.Pearson(new float[] { 1, 2, 3, 4 }, new float[] { 4, 3, 2, 1 }), 12);
        // deviations (-1, 0, 1) and (-1, 1, 0): 1 / sqrt(2 * 2)
        Assert.Equal(0.5, MapStatistics.Pearson(new float[] { 1, 2, 3 }, new float[] { 1, 3, 2 }), 12);
        // constant maps: 1 when equal, else 0
        Assert.Equal(1.0, MapStatistics.Pearson(new float[] { 1, 1 }, new float[] { 1, 1 }));
        Assert.Equal(0.0, MapStatistics.Pearson(new float[] { 1, 1 }, new float[] { 1, 2 }));
    }

    [Fact]
    public void RanksShareTheMeanRankOnTies()
    {
        Assert.Equal(new float[] { 2, 3.5f, 3.5f, 1 }, MapStatistics.Ranks(new float[] { 10, 20, 20, 5 }));
    }

    [Fact]
    public void SpearmanMatchesHandValues()
    {
        Assert.Equal(1.0, MapStatistics.Spearman(new float[] { 1, 2, 3 }, new float[] { 1, 4, 9 }), 12); // monotone, not linear
        Assert.Equal(-1.0, MapStatistics.Spearman(new float[] { 1, 2, 3 }, new float[] { 9, 4, 1 }), 12);
        // ranks (1,2,3,4,5) and (1,2,3.5,5,3.5): deviations (-2,-1,0,1,2) and (-2,-1,0.5,2,0.5): 8 / sqrt(10 * 9.5)
        Assert.Equal(8 / Math.Sqrt(95), MapStatistics.Spearman(new float[] { 1, 2, 3, 4, 5 }, new float[] { 5, 6, 7, 8, 7 }), 6);
        Assert.Equal(1.0, MapStatistics.Spearman(new float[] { 0, 0, 0 }, new float[] { 2, 2, 2 })); // two flat maps rank alike
        Assert.Equal(0.0, MapStatistics.Spearman(new float[] { 0, 0, 0 }, new float[] { 1, 2, 3 }));
    }
}
