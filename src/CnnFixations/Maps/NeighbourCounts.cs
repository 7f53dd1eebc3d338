namespace CnnFixations.Maps;

/// <summary>
/// For each of a set of integer points, how many points (itself and duplicates included) lie at a
/// Euclidean distance below r, computed exactly as <c>Math.Sqrt(dx*dx + dy*dy) &lt; r</c> would.
/// The distinct points are grouped by row and sorted; each pair of rows less than r apart is swept
/// once with two pointers, so the cost is about (rows within r) * N rather than N^2.
/// </summary>
internal static class NeighbourCounts
{
    public static long[] WithinRadius(IReadOnlyList<(int X, int Y)> points, double r)
    {
        int n = points.Count;
        var result = new long[n];
        if (n == 0) return result;

        // Distinct points in (Y, X) order, each with its multiplicity; index[i] = distinct index of point i.
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int c = points[a].Y.CompareTo(points[b].Y);
            if (c == 0) c = points[a].X.CompareTo(points[b].X);
            return c != 0 ? c : a.CompareTo(b);
        });
        var xs = new List<int>();
        var multiplicity = new List<long>();
        var rowY = new List<int>();
        var rowStart = new List<int>();
        var index = new int[n];
        long minX = long.MaxValue, maxX = long.MinValue;
        for (int k = 0; k < n; k++)
        {
            var p = points[order[k]];
            minX = Math.Min(minX, p.X);
            maxX = Math.Max(maxX, p.X);
            bool newRow = rowY.Count == 0 || rowY[^1] != p.Y;
            if (newRow)
            {
                rowY.Add(p.Y);
                rowStart.Add(xs.Count);
            }
            if (newRow || xs[^1] != p.X)
            {
                xs.Add(p.X);
                multiplicity.Add(0);
            }
            multiplicity[^1]++;
            index[order[k]] = xs.Count - 1;
        }
        rowStart.Add(xs.Count);

        long spanX = maxX - minX, spanY = (long)rowY[^1] - rowY[0];
        long maxSquared = LargestSquaredDistanceBelow(r, spanX * spanX + spanY * spanY);
        var distinctCounts = new long[xs.Count];
        if (maxSquared >= 0)
        {
            // Prefix sums of multiplicities: points xs[a..b) of a row hold prefix[b] - prefix[a] points.
            var prefix = new long[xs.Count + 1];
            for (int i = 0; i < xs.Count; i++) prefix[i + 1] = prefix[i] + multiplicity[i];
            int maxDy = (int)Math.Min((long)Math.Sqrt(maxSquared) + 1, spanY);
            while ((long)maxDy * maxDy > maxSquared) maxDy--;
            // halfWidth[dy]: the largest dx with dx^2 + dy^2 within the radius.
            var halfWidth = new long[maxDy + 1];
            for (int dy = 0; dy <= maxDy; dy++)
            {
                long rest = maxSquared - (long)dy * dy;
                long dx = (long)Math.Sqrt(rest);
                while (dx * dx > rest) dx--;
                while ((dx + 1) * (dx + 1) <= rest) dx++;
                halfWidth[dy] = dx;
            }

            int rows = rowY.Count, firstNear = 0;
            for (int a = 0; a < rows; a++)
            {
                while ((long)rowY[a] - rowY[firstNear] > maxDy) firstNear++;
                for (int b = firstNear; b < rows && (long)rowY[b] - rowY[a] <= maxDy; b++)
                    SweepRowPair(xs, prefix, rowStart[a], rowStart[a + 1], rowStart[b], rowStart[b + 1],
                        halfWidth[Math.Abs(rowY[b] - rowY[a])], distinctCounts);
            }
        }
        for (int i = 0; i < n; i++) result[i] = distinctCounts[index[i]];
        return result;
    }

    /// <summary>Adds to each point of row A how many points of row B lie within halfWidth along x.</summary>
    private static void SweepRowPair(List<int> xs, long[] prefix, int aStart, int aEnd, int bStart, int bEnd,
        long halfWidth, long[] counts)
    {
        int lo = bStart, hi = bStart;
        for (int i = aStart; i < aEnd; i++)
        {
            long x = xs[i];
            while (lo < bEnd && xs[lo] < x - halfWidth) lo++;
            if (hi < lo) hi = lo;
            while (hi < bEnd && xs[hi] <= x + halfWidth) hi++;
            counts[i] += prefix[hi] - prefix[lo];
        }
    }

    /// <summary>
    /// The largest integer t in [0, cap] with Math.Sqrt(t) &lt; r, or -1 when there is none. A squared
    /// distance of two points in the set never exceeds cap, so capping changes no answer.
    /// </summary>
    private static long LargestSquaredDistanceBelow(double r, long cap)
    {
        if (!(r > 0)) return -1;
        double rr = r * r;
        long t = rr >= cap ? cap : (long)Math.Floor(rr);
        while (t >= 0 && !(Math.Sqrt(t) < r)) t--;
        while (t < cap && Math.Sqrt(t + 1) < r) t++;
        return t;
    }
}
