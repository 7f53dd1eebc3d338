using CnnFixations.Evaluation;
using CnnFixations.Imaging;

namespace CnnFixations.Tests.Evaluation;

public class GridPointingGameTests
{
    [Fact]
    public void TilesAreFlooredSplitsOfTheCanvas()
    {
        // 224 / 3 = 74.67: columns 0..73, 74..148, 149..223.
        Assert.Equal(new PixelRect(0, 0, 73, 73), GridPointingGame.Tile(224, 224, 3, 0, 0));
        Assert.Equal(new PixelRect(74, 0, 148, 73), GridPointingGame.Tile(224, 224, 3, 0, 1));
        Assert.Equal(new PixelRect(149, 149, 223, 223), GridPointingGame.Tile(224, 224, 3, 2, 2));
        Assert.Equal(new PixelRect(112, 0, 223, 111), GridPointingGame.Tile(224, 224, 2, 0, 1));
    }

    [Theory]
    [InlineData(224, 224, 2)]
    [InlineData(224, 224, 3)]
    [InlineData(227, 200, 3)]
    [InlineData(10, 7, 4)]
    public void EveryPixelLiesInExactlyTheTileTileAtNames(int w, int h, int k)
    {
        var tiles = Enumerable.Range(0, k * k).Select(i => GridPointingGame.Tile(w, h, k, i / k, i % k)).ToArray();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int at = GridPointingGame.TileAt(x, y, w, h, k);
                Assert.True(tiles[at].Contains(x, y), $"({x}, {y}) not in tile {at}");
                Assert.Equal(1, tiles.Count(t => t.Contains(x, y)));
            }
    }

    private static RgbImage Solid(int w, int h, byte r, byte g, byte b)
    {
        var p = new byte[3 * w * h];
        for (int i = 0; i < w * h; i++) { p[3 * i] = r; p[3 * i + 1] = g; p[3 * i + 2] = b; }
        return new RgbImage(w, h, p);
    }

    [Fact]
    public void ComposePutsPhotoIIntoTileI()
    {
        var photos = new[] { Solid(5, 9, 255, 0, 0), Solid(20, 20, 0, 255, 0), Solid(3, 3, 0, 0, 255), Solid(10, 4, 9, 9, 9) };
        var canvas = GridPointingGame.Compose(photos, 2, 10, 8);
        Assert.Equal((10, 8), (canvas.Width, canvas.Height));
        Assert.Equal(((byte)255, (byte)0, (byte)0), canvas[0, 0]);
        Assert.Equal(((byte)255, (byte)0, (byte)0), canvas[4, 3]);
        Assert.Equal(((byte)0, (byte)255, (byte)0), canvas[5, 0]);
        Assert.Equal(((byte)0, (byte)0, (byte)255), canvas[0, 4]);
        Assert.Equal(((byte)9, (byte)9, (byte)9), canvas[9, 7]);
    }

    [Fact]
    public void SelectionIsSeededWithDistinctClassesAndNoPhotoTwice()
    {
        // 20 photos, 6 classes (repeats): collages of 2x2 need 4 distinct classes each.
        var pool = Enumerable.Range(0, 20).Select(i => new GridCandidate($"p{i}", $"/p{i}.png", i % 6)).ToList();
        var a = GridPointingGame.Select(pool, 2, 10, 7);
        var b = GridPointingGame.Select(pool, 2, 10, 7);
        Assert.Equal(a.Select(c => string.Join(",", c.Tiles.Select(t => t.Name))), b.Select(c => string.Join(",", c.Tiles.Select(t => t.Name))));
        Assert.True(a.Count is >= 3 and <= 5, $"{a.Count} collages");
        foreach (var c in a)
        {
            Assert.Equal(4, c.Tiles.Count);
            Assert.Equal(4, c.Tiles.Select(t => t.ClassIndex).Distinct().Count());
        }
        var used = a.SelectMany(c => c.Tiles).ToList();
        Assert.Equal(used.Count, used.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, a.Count), a.Select(c => c.Number));
        var other = GridPointingGame.Select(pool, 2, 10, 8);
        Assert.NotEqual(string.Join(";", a.SelectMany(c => c.Tiles).Select(t => t.Name)), string.Join(";", other.SelectMany(c => c.Tiles).Select(t => t.Name)));
        Assert.Equal(2, GridPointingGame.Select(pool, 2, 2, 7).Count);
        Assert.Empty(GridPointingGame.Select(pool.Where(p => p.ClassIndex < 3).ToList(), 2, 10, 7)); // only 3 classes
    }
}
