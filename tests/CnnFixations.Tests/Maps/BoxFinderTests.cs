using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

public class BoxFinderTests
{
    [Fact]
    public void PointsGiveTheirTightBox()
    {
        Assert.Equal(new[] { 2, 1, 9, 7 }, BoxFinder.FromPoints([(5, 7), (2, 3), (9, 1), (4, 4)]));
        Assert.Equal(new[] { 3, 3, 3, 3 }, BoxFinder.FromPoints([(3, 3)]));
        Assert.Null(BoxFinder.FromPoints(Array.Empty<(int, int)>()));
    }

    /// <summary>A map from rows of characters: '#' = 1, '+' = 0.5, '.' = 0.4, ' ' = 0.</summary>
    private static (float[] Map, int W, int H) Map(params string[] rows)
    {
        int w = rows[0].Length, h = rows.Length;
        var map = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                map[y * w + x] = rows[y][x] switch { '#' => 1f, '+' => 0.5f, '.' => 0.4f, _ => 0f };
        return (map, w, h);
    }

    [Fact]
    public void LargestComponentWins()
    {
        // Left: 3 pixels. Right: 5 pixels joined only through corners (8-connected), box x 5..8, y 0..3.
        var (map, w, h) = Map(
            "##   #   ",
            "#     #  ",
            "       # ",
            "      # #");
        Assert.Equal(new[] { 5, 0, 8, 3 }, BoxFinder.FromThreshold(map, w, h, 0.5));
    }

    [Fact]
    public void ThresholdIsInclusiveAndBelowIsLeftOut()
    {
        // At fraction 0.5 the '+' (0.5) pixels join; the '.' (0.4) pixels do not.
        var (map, w, h) = Map(
            "#+  .....",
            "+       .",
            "        .");
        Assert.Equal(new[] { 0, 0, 1, 1 }, BoxFinder.FromThreshold(map, w, h, 0.5));
        // At 0.4 the dots (7 pixels) are the larger region.
        Assert.Equal(new[] { 4, 0, 8, 2 }, BoxFinder.FromThreshold(map, w, h, 0.4));
    }

    [Fact]
    public void TiesGoToTheFirstRegionInRowMajorOrder()
    {
        // Two regions of 2 pixels; the one holding the first pixel scanned (row 0, x = 4) wins,
        // although the other region's pixels reach further left.
        var (map, w, h) = Map(
            "    ##",
            "##    ");
        Assert.Equal(new[] { 4, 0, 5, 0 }, BoxFinder.FromThreshold(map, w, h, 0.5));
    }

    [Fact]
    public void AllZeroMapHasNoBox()
    {
        Assert.Null(BoxFinder.FromThreshold(new float[12], 4, 3, 0.5));
    }

    [Fact]
    public void WrongMapSizeIsRefused()
    {
        Assert.Throws<CnnFixationsException>(() => BoxFinder.FromThreshold(new float[11], 4, 3, 0.5));
    }
}
