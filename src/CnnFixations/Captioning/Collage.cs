using CnnFixations.Imaging;

namespace CnnFixations.Captioning;

/// <summary>
/// The demonstration captioner's pictures: 2x2 collages of four square tiles (row by row: top-left,
/// top-right, bottom-left, bottom-right), each a photo resized to the tile or empty mid-grey.
/// </summary>
public static class Collage
{
    public const int Tile = 227;
    public const byte Grey = 128;

    public static RgbImage Compose(IReadOnlyList<RgbImage?> tiles, int tile = Tile)
    {
        if (tiles.Count != 4) throw new CnnFixationsException($"a collage has 4 tiles, got {tiles.Count}");
        int size = 2 * tile;
        var pixels = new byte[3 * size * size];
        Array.Fill(pixels, Grey);
        for (int t = 0; t < 4; t++)
        {
            if (tiles[t] is not { } image) continue;
            var img = image.Width == tile && image.Height == tile ? image : Resampler.Resize(image, tile, tile);
            int ox = t % 2 * tile, oy = t / 2 * tile;
            for (int y = 0; y < tile; y++)
                Array.Copy(img.Pixels, 3 * y * tile, pixels, 3 * ((oy + y) * size + ox), 3 * tile);
        }
        return new RgbImage(size, size, pixels);
    }

    /// <summary>The tile (0..3) holding image pixel (x, y) of a collage of <paramref name="size"/> pixels.</summary>
    public static int TileOf(int x, int y, int size) => (y >= size / 2 ? 2 : 0) + (x >= size / 2 ? 1 : 0);
}
