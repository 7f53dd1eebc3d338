namespace CnnFixations.Evaluation;

/// <summary>A rectangle of pixels, inclusive on both ends: columns X0..X1, rows Y0..Y1.</summary>
public readonly record struct PixelRect(int X0, int Y0, int X1, int Y1)
{
    public bool Contains(int x, int y) => x >= X0 && x <= X1 && y >= Y0 && y <= Y1;
    public int Width => X1 - X0 + 1;
    public int Height => Y1 - Y0 + 1;
}

/// <summary>
/// The arithmetic of the metrics that look at a whole map: where a map points, its mass in a region,
/// the small-object test, and the Pearson and Spearman correlations of two maps.
/// </summary>
public static class MapStatistics
{
    /// <summary>An image is a small-object image when every ground-truth box of its class covers less than this fraction of its pixels.</summary>
    public const double SmallObjectFraction = 0.5;

    /// <summary>
    /// Where a map points: its first maximum in row-major order; a flat map (every pixel equal and
    /// positive, e.g. the whole-image reference) points at the image centre pixel
    /// ((width - 1) / 2, (height - 1) / 2), rounded down. Null for an all-zero (or empty) map: it
    /// points nowhere and never scores a hit.
    /// </summary>
    public static (int X, int Y)? PointOf(float[] map, int width, int height)
    {
        if (map.Length == 0) return null;
        int best = 0;
        bool flat = true;
        for (int i = 1; i < map.Length; i++)
        {
            if (map[i] > map[best]) best = i;
            if (map[i] != map[0]) flat = false;
        }
        if (!(map[best] > 0)) return null;
        if (flat) return ((width - 1) / 2, (height - 1) / 2);
        return (best % width, best / width);
    }

    /// <summary>
    /// The share of the map's positive mass inside <paramref name="rect"/>: sum of max(v, 0) over the
    /// rectangle divided by the sum over the map; 0 for a map with no positive value.
    /// </summary>
    public static double MassShare(float[] map, int width, PixelRect rect)
    {
        double total = 0, inside = 0;
        for (int i = 0; i < map.Length; i++)
        {
            float v = map[i];
            if (!(v > 0)) continue;
            total += v;
            int x = i % width, y = i / width;
            if (rect.Contains(x, y)) inside += v;
        }
        return total > 0 ? inside / total : 0;
    }

    /// <summary>Pixels of a box in inclusive coordinates: (xmax - xmin + 1) x (ymax - ymin + 1), as for IoU.</summary>
    public static double BoxArea(GroundTruthBox b) => (b.XMax - b.XMin + 1) * (b.YMax - b.YMin + 1);

    /// <summary>
    /// A small-object image: it has at least one box of <paramref name="classIndex"/>, and every such box covers
    /// strictly less than <see cref="SmallObjectFraction"/> of the image's width x height pixels
    /// (box area as in <see cref="BoxArea"/>).
    /// </summary>
    public static bool IsSmallObject(IEnumerable<GroundTruthBox> boxes, int classIndex, int width, int height)
    {
        bool any = false;
        double limit = SmallObjectFraction * width * height;
        foreach (var b in boxes)
        {
            if (b.ClassIndex != classIndex) continue;
            any = true;
            if (BoxArea(b) >= limit) return false;
        }
        return any;
    }

    /// <summary>
    /// The Pearson correlation of two maps of the same size. When either map is constant the coefficient
    /// is undefined; it is then 1 when the two maps are equal everywhere and 0 otherwise.
    /// </summary>
    public static double Pearson(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("the maps differ in size");
        int n = a.Length;
        if (n == 0) return 1;
        double ma = 0, mb = 0;
        for (int i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
        ma /= n; mb /= n;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db; saa += da * da; sbb += db * db;
        }
        if (saa == 0 || sbb == 0) return a.SequenceEqual(b) ? 1 : 0;
        return Math.Clamp(sab / Math.Sqrt(saa * sbb), -1, 1);
    }

    /// <summary>Ranks 1..n of the values, ties sharing the mean of their ranks.</summary>
    public static float[] Ranks(ReadOnlySpan<float> values)
    {
        int n = values.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = values.ToArray();
        Array.Sort(keys, order);
        var ranks = new float[n];
        int start = 0;
        while (start < n)
        {
            int end = start;
            while (end + 1 < n && keys[end + 1] == keys[start]) end++;
            float rank = (float)((start + end) / 2.0 + 1);
            for (int k = start; k <= end; k++) ranks[order[k]] = rank;
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>
    /// Spearman's rank correlation: the Pearson correlation of the ranks (ties get their mean rank), with
    /// <see cref="Pearson"/>'s rule for constant maps (equal maps 1, else 0).
    /// </summary>
    public static double Spearman(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Pearson(Ranks(a), Ranks(b));
}
