namespace CnnFixations.Maps;

/// <summary>Bounding boxes [xmin, ymin, xmax, ymax] (inclusive pixel coordinates) around fixations.</summary>
public static class BoxFinder
{
    /// <summary>The tight box of the points; null when there are none.</summary>
    public static int[]? FromPoints(IReadOnlyList<(int X, int Y)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0) return null;
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = int.MinValue, y1 = int.MinValue;
        foreach (var (x, y) in points)
        {
            x0 = Math.Min(x0, x); y0 = Math.Min(y0, y);
            x1 = Math.Max(x1, x); y1 = Math.Max(y1, y);
        }
        return [x0, y0, x1, y1];
    }

    /// <summary>
    /// The tight box of the largest 8-connected region of pixels with value &gt;= fraction * max (ties: the
    /// region holding the first such pixel in row-major order); null when the map has no positive value.
    /// </summary>
    public static int[]? FromThreshold(float[] map, int width, int height, double fraction)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (width < 1 || height < 1 || map.LongLength != (long)width * height)
            throw new CnnFixationsException($"a {width}x{height} map needs {(long)width * height} values, got {map.LongLength}");
        if (double.IsNaN(fraction))
            throw new CnnFixationsException("the box threshold fraction must be a number");
        float max = 0;
        foreach (float v in map) if (v > max) max = v;
        if (!(max > 0)) return null;
        double threshold = fraction * max;

        var visited = new bool[map.Length];
        var stack = new Stack<int>();
        int[]? best = null;
        long bestSize = 0;
        for (int start = 0; start < map.Length; start++)
        {
            if (visited[start] || !(map[start] >= threshold)) continue;
            // Flood fill from the first (row-major) pixel of a new region.
            long size = 0;
            int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
            visited[start] = true;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                int px = p % width, py = p / width;
                size++;
                x0 = Math.Min(x0, px); y0 = Math.Min(y0, py);
                x1 = Math.Max(x1, px); y1 = Math.Max(y1, py);
                for (int ny = Math.Max(py - 1, 0); ny <= Math.Min(py + 1, height - 1); ny++)
                {
                    for (int nx = Math.Max(px - 1, 0); nx <= Math.Min(px + 1, width - 1); nx++)
                    {
                        int q = ny * width + nx;
                        if (visited[q] || !(map[q] >= threshold)) continue;
                        visited[q] = true;
                        stack.Push(q);
                    }
                }
            }
            if (size > bestSize)
            {
                bestSize = size;
                best = [x0, y0, x1, y1];
            }
        }
        return best;
    }
}
