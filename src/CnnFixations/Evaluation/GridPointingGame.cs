using CnnFixations.Imaging;

namespace CnnFixations.Evaluation;

/// <summary>A photo that may go into a collage: it is classified correctly on its own. <see cref="ClassIndex"/> is the dataset's class.</summary>
public sealed record GridCandidate(string Name, string ImagePath, int ClassIndex);

/// <summary>One collage: <see cref="Size"/> x <see cref="Size"/> tiles, row-major; <see cref="Number"/> counts from 1 per size.</summary>
public sealed record GridCollage(int Size, int Number, IReadOnlyList<GridCandidate> Tiles)
{
    public string Label => $"{Size}x{Size} #{Number}";
}

/// <summary>
/// The grid pointing game (Böhle et al., CVPR 2022; Rao et al., CVPR 2022): collages of k x k photos of
/// different classes, each explained for one tile's class; a good map puts its mass and its maximum in that tile.
/// </summary>
public static class GridPointingGame
{
    /// <summary>
    /// Tile (row, col) of a k x k split of a width x height canvas: columns floor(col·W/k) .. floor((col+1)·W/k) - 1,
    /// rows likewise. The tiles cover the canvas without overlap.
    /// </summary>
    public static PixelRect Tile(int width, int height, int k, int row, int col) =>
        new(col * width / k, row * height / k, (col + 1) * width / k - 1, (row + 1) * height / k - 1);

    /// <summary>
    /// The row-major index of the tile holding pixel (x, y) (the inverse of <see cref="Tile"/>): the largest column c
    /// with floor(c·W/k) &lt;= x is floor(((x + 1)·k - 1) / W), and likewise for the row.
    /// </summary>
    public static int TileAt(int x, int y, int width, int height, int k) => ((y + 1) * k - 1) / height * k + ((x + 1) * k - 1) / width;

    /// <summary>
    /// Up to <paramref name="count"/> collages of k x k photos. The candidates (in ground-truth file order) are
    /// shuffled by <see cref="SeededRandom"/> with seed <paramref name="seed"/> + k; collages are then filled
    /// one after another from the front of the shuffled list, passing over (for the next collage) a photo whose
    /// class the collage being filled already holds. Each photo is used at most once per size. Selection stops
    /// when no further collage can be completed.
    /// </summary>
    public static IReadOnlyList<GridCollage> Select(IReadOnlyList<GridCandidate> candidates, int k, int count, long seed)
    {
        if (k < 2) throw new ArgumentOutOfRangeException(nameof(k), "a grid needs at least 2x2 tiles");
        var pending = candidates.ToList();
        new SeededRandom(seed + k).Shuffle(pending);
        var result = new List<GridCollage>();
        while (result.Count < count)
        {
            var tiles = new List<GridCandidate>();
            var classes = new HashSet<int>();
            foreach (var c in pending)
            {
                if (classes.Add(c.ClassIndex)) tiles.Add(c);
                if (tiles.Count == k * k) break;
            }
            if (tiles.Count < k * k) break;
            foreach (var t in tiles) pending.Remove(t);
            result.Add(new GridCollage(k, result.Count + 1, tiles));
        }
        return result;
    }

    /// <summary>A width x height canvas whose tile i (row-major) is photo i resized (Lanczos, aspect ratio not kept) to the tile.</summary>
    public static RgbImage Compose(IReadOnlyList<RgbImage> photos, int k, int width, int height)
    {
        if (photos.Count != k * k) throw new ArgumentException($"a {k}x{k} collage needs {k * k} photos, got {photos.Count}");
        var canvas = new byte[3L * width * height];
        for (int i = 0; i < photos.Count; i++)
        {
            var rect = Tile(width, height, k, i / k, i % k);
            var p = photos[i].Width == rect.Width && photos[i].Height == rect.Height ? photos[i] : Resampler.Resize(photos[i], rect.Width, rect.Height);
            for (int y = 0; y < rect.Height; y++)
                Array.Copy(p.Pixels, 3L * y * rect.Width, canvas, 3L * ((rect.Y0 + y) * (long)width + rect.X0), 3L * rect.Width);
        }
        return new RgbImage(width, height, canvas);
    }
}
