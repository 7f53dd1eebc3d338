namespace CnnFixations.Maps;

/// <summary>
/// Drops isolated points: with N points and r = radiusFraction * (image diagonal), a point is kept when
/// more than minNeighbourFraction * N points (itself and duplicates included) lie at distance &lt; r.
/// </summary>
public static class OutlierFilter
{
    /// <summary>Coordinates are limited so that squared distances stay exact in a double.</summary>
    private const int CoordinateLimit = 1 << 25;

    /// <summary>
    /// For each point, whether it is kept: at least <paramref name="minNeighbourFraction"/> of all points lie within
    /// <paramref name="radiusFraction"/> of the image diagonal of it.
    /// </summary>
    public static bool[] Keep(IReadOnlyList<(int X, int Y)> points, int imageWidth, int imageHeight,
        double radiusFraction = 0.1, double minNeighbourFraction = 0.05)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (imageWidth < 1 || imageHeight < 1)
            throw new CnnFixationsException($"the outlier filter needs an image of at least 1x1 pixels, got {imageWidth}x{imageHeight}");
        if (double.IsNaN(radiusFraction) || double.IsNaN(minNeighbourFraction))
            throw new CnnFixationsException("the outlier filter's radius and neighbour fraction must be numbers");
        int n = points.Count;
        var keep = new bool[n];
        if (n == 0) return keep;
        foreach (var (x, y) in points)
            if (Math.Abs((long)x) > CoordinateLimit || Math.Abs((long)y) > CoordinateLimit)
                throw new CnnFixationsException($"point ({x}, {y}) is too far outside the {imageWidth}x{imageHeight} image for the outlier filter");

        double r = radiusFraction * Math.Sqrt((double)imageWidth * imageWidth + (double)imageHeight * imageHeight);
        long[] counts = NeighbourCounts.WithinRadius(points, r);
        double needed = minNeighbourFraction * n;
        for (int i = 0; i < n; i++) keep[i] = counts[i] > needed;
        return keep;
    }
}
