using System.Numerics.Tensors;

namespace CnnFixations.Maps;

/// <summary>A Gaussian-blurred point density, normalized to a maximum of 1.</summary>
public static class HeatMap
{
    /// <summary>
    /// Counts the points per pixel (points outside the image are ignored), blurs the counts with a
    /// Gaussian of the given sigma (weights exp(-d^2 / (2 sigma^2)) for |d| &lt;= ceil(3 sigma), zero
    /// outside the image, no renormalization at the borders) and divides by the maximum. Row-major
    /// height x width; all zeros when no point lies in the image. Sigma 0 means no blur.
    /// </summary>
    public static float[] FromPoints(IReadOnlyList<(int X, int Y)> points, int width, int height, double sigma = 20) =>
        FromWeightedPoints(points, null, width, height, sigma);

    /// <summary>
    /// A wide blur of weighted points, computed on a coarser grid: for <c>sigma</c> of 16 pixels or more the points
    /// are summed into cells of <c>d = floor(sigma / 8)</c> x d pixels (cell (floor(x / d), floor(y / d))), the cell
    /// grid is blurred as <see cref="FromWeightedPoints"/> does with sigma / d, and each image pixel takes the
    /// bilinear interpolation of the four nearest cell centres (cell i's centre at image coordinate
    /// <c>(i + 1/2) * d - 1/2</c>, clamped at the borders); normalized to a maximum of 1. For smaller sigma it is
    /// <see cref="FromWeightedPoints"/> itself. At such widths the blur varies little within a cell, and it costs
    /// about 1/d^2 of the full-resolution blur.
    /// </summary>
    public static float[] FromWeightedPointsCoarse(IReadOnlyList<(int X, int Y)> points, IReadOnlyList<double> weights, int width, int height, double sigma,
        bool evenAtBorders = false)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(weights);
        int d = double.IsFinite(sigma) ? (int)Math.Max(1, Math.Floor(sigma / 8)) : 1;
        if (d < 2) return FromWeightedPoints(points, weights, width, height, sigma, evenAtBorders);
        int gw = (width + d - 1) / d, gh = (height + d - 1) / d;
        var cells = new List<(int X, int Y)>(points.Count);
        for (int n = 0; n < points.Count; n++)
        {
            var (x, y) = points[n];
            cells.Add((uint)x < (uint)width && (uint)y < (uint)height ? (x / d, y / d) : (-1, -1));
        }
        var grid = FromWeightedPoints(cells, weights, gw, gh, sigma / d, evenAtBorders);
        var result = new float[(long)width * height];
        var xs = CellInterpolation.Along(width, gw, d, 1);
        var ys = CellInterpolation.Along(height, gh, d, 1);
        float max = 0;
        for (int y = 0; y < height; y++)
        {
            var (y0, y1, wy) = ys[y];
            int r0 = y0 * gw, r1 = y1 * gw;
            for (int x = 0; x < width; x++)
            {
                var (x0, x1, fx) = xs[x];
                double top = grid[r0 + x0] * (1 - fx) + grid[r0 + x1] * fx;
                double bottom = grid[r1 + x0] * (1 - fx) + grid[r1 + x1] * fx;
                float v = (float)(top * (1 - wy) + bottom * wy);
                result[y * width + x] = v;
                if (v > max) max = v;
            }
        }
        if (max > 0) TensorPrimitives.Divide(result, max, result);
        return result;
    }

    /// <summary>
    /// <c>(1 - share) * fine + share * coarse</c> per pixel (both maps normalized to a maximum of 1), divided
    /// by its maximum; all zeros when both are.
    /// </summary>
    public static float[] Mix(float[] fine, float[] coarse, double share)
    {
        ArgumentNullException.ThrowIfNull(fine);
        ArgumentNullException.ThrowIfNull(coarse);
        if (fine.Length != coarse.Length) throw new ArgumentException("the two maps must have the same size");
        if (!(share >= 0 && share <= 1)) throw new CnnFixationsException($"the coarse share of a heat map must lie in 0..1, got {share}");
        var result = new float[fine.Length];
        float max = 0;
        for (int i = 0; i < result.Length; i++)
        {
            float v = (float)((1 - share) * fine[i] + share * coarse[i]);
            result[i] = v;
            if (v > max) max = v;
        }
        if (max > 0) TensorPrimitives.Divide(result, max, result);
        return result;
    }

    /// <summary>
    /// <c>max(heat, floor * extent / max(extent))</c> per pixel, in place: the map <paramref name="heat"/> (normalized to a
    /// maximum of 1) never falls below <paramref name="floor"/> times the normalized <paramref name="extent"/>. With
    /// <paramref name="floor"/> below 1 the map's maximum, and where it lies, are unchanged. Returns
    /// <paramref name="heat"/>; an all-zero extent leaves it as it is.
    /// </summary>
    public static float[] WithFloor(float[] heat, float[] extent, double floor)
    {
        ArgumentNullException.ThrowIfNull(heat);
        ArgumentNullException.ThrowIfNull(extent);
        if (heat.Length != extent.Length) throw new ArgumentException("the two maps must have the same size");
        if (!(floor >= 0 && floor < 1)) throw new CnnFixationsException($"the extent floor of a heat map must lie in [0, 1), got {floor}");
        float max = TensorPrimitives.Max<float>(extent);
        if (!(max > 0) || floor == 0) return heat;
        float scale = (float)(floor / max);
        for (int i = 0; i < heat.Length; i++) heat[i] = Math.Max(heat[i], scale * extent[i]);
        return heat;
    }

    /// <summary>
    /// As <see cref="FromPoints"/>, each point counting with its weight (null: 1 each); weights must be
    /// non-negative. Used by the weighted rules, whose every input pixel carries a share of the target.
    /// </summary>
    public static float[] FromWeightedPoints(IReadOnlyList<(int X, int Y)> points, IReadOnlyList<double>? weights, int width, int height, double sigma = 20,
        bool evenAtBorders = false)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (width < 1 || height < 1)
            throw new CnnFixationsException($"a heat map needs an image of at least 1x1 pixels, got {width}x{height}");
        if (!(sigma >= 0) || double.IsInfinity(sigma))
            throw new CnnFixationsException($"the heat map's sigma must be a non-negative number of pixels, got {sigma}");
        var result = new float[(long)width * height];
        var kernel = Kernel(sigma, Math.Max(width, height));
        int radius = kernel.Length / 2;
        var rows = BlurRows(points, weights, width, height, kernel);
        if (rows.Count == 0) return result;

        // Vertical pass: output row yy sums the blurred point rows within the kernel radius, in row order.
        var acc = new double[width];
        float max = 0;
        int first = 0;
        for (int yy = 0; yy < height; yy++)
        {
            while (first < rows.Count && rows[first].Y < yy - radius) first++;
            if (first == rows.Count) break;
            if (rows[first].Y > yy + radius) continue;
            int lo = width, hi = -1;
            for (int k = first; k < rows.Count && rows[k].Y <= yy + radius; k++)
            {
                var row = rows[k];
                var target = acc.AsSpan(row.Start, row.Values.Length);
                TensorPrimitives.MultiplyAdd(row.Values, kernel[yy - row.Y + radius], target, target);
                lo = Math.Min(lo, row.Start);
                hi = Math.Max(hi, row.Start + row.Values.Length - 1);
            }
            var outRow = result.AsSpan(yy * width, width);
            for (int x = lo; x <= hi; x++)
            {
                float v = (float)acc[x];
                outRow[x] = v;
                if (v > max) max = v;
                acc[x] = 0;
            }
        }
        if (evenAtBorders)
        {
            // Divide by the share of the kernel that lies inside the image (per axis; the blur is separable), so that
            // an even weight blurs to an even map up to the edges instead of fading over the outer 3 sigma.
            var insideX = InsideShares(width, kernel);
            var insideY = InsideShares(height, kernel);
            max = 0;
            for (int yy = 0; yy < height; yy++)
            {
                var row = result.AsSpan(yy * width, width);
                for (int x = 0; x < width; x++)
                {
                    float v = (float)(row[x] / (insideX[x] * insideY[yy]));
                    row[x] = v;
                    if (v > max) max = v;
                }
            }
        }
        if (!(max > 0)) return result;
        for (int i = 0; i < result.Length; i++) result[i] /= max;
        return result;
    }

    /// <summary>For each of <paramref name="size"/> positions, the part of <paramref name="kernel"/>'s sum whose taps land inside 0..size-1.</summary>
    internal static double[] InsideShares(int size, double[] kernel)
    {
        int radius = kernel.Length / 2;
        var prefix = new double[kernel.Length + 1];
        for (int k = 0; k < kernel.Length; k++) prefix[k + 1] = prefix[k] + kernel[k];
        double total = prefix[kernel.Length];
        var shares = new double[size];
        for (int i = 0; i < size; i++)
        {
            // taps d = -radius..radius with 0 <= i + d < size: kernel indices from max(0, radius - i) to min(2 radius, radius + size - 1 - i)
            int from = Math.Max(0, radius - i), to = Math.Min(kernel.Length - 1, radius + size - 1 - i);
            shares[i] = (prefix[to + 1] - prefix[from]) / total;
        }
        return shares;
    }

    /// <summary>A row that holds points, blurred along x: Values cover x = Start .. Start + Values.Length - 1.</summary>
    private sealed record BlurredRow(int Y, int Start, double[] Values);

    /// <summary>The horizontal pass, only for rows that hold points, in increasing y.</summary>
    private static List<BlurredRow> BlurRows(IReadOnlyList<(int X, int Y)> points, IReadOnlyList<double>? weights, int width, int height, double[] kernel)
    {
        int radius = kernel.Length / 2;
        var keys = new List<long>(points.Count);
        var byKey = weights == null ? null : new Dictionary<long, double>();
        for (int n = 0; n < points.Count; n++)
        {
            var (x, y) = points[n];
            if ((uint)x >= (uint)width || (uint)y >= (uint)height) continue;
            long key = (long)y * width + x;
            if (byKey == null) keys.Add(key);
            else if (weights![n] > 0)
            {
                if (byKey.TryGetValue(key, out double w)) byKey[key] = w + weights[n];
                else { byKey[key] = weights[n]; keys.Add(key); }
            }
        }
        keys.Sort();

        var rows = new List<BlurredRow>();
        int i = 0;
        while (i < keys.Count)
        {
            int y = (int)(keys[i] / width);
            int end = i;
            while (end < keys.Count && keys[end] / width == y) end++;
            int lo = Math.Max((int)(keys[i] % width) - radius, 0);
            int hi = Math.Min((int)(keys[end - 1] % width) + radius, width - 1);
            var values = new double[hi - lo + 1];
            while (i < end)
            {
                int x = (int)(keys[i] % width);
                double count = 0;
                for (; i < end && keys[i] % width == x; i++) count += byKey == null ? 1 : byKey[keys[i]];
                int from = Math.Max(x - radius, 0), to = Math.Min(x + radius, width - 1);
                // values[p - lo] += count * kernel[p - x + radius] for p = from..to (one multiply and one add per element, as a loop would)
                var span = values.AsSpan(from - lo, to - from + 1);
                TensorPrimitives.MultiplyAdd(kernel.AsSpan(from - x + radius, to - from + 1), count, span, span);
            }
            rows.Add(new BlurredRow(y, lo, values));
        }
        return rows;
    }

    /// <summary>exp(-d^2 / (2 sigma^2)) for d = -R..R, R = ceil(3 sigma), capped at <paramref name="maxRadius"/> (farther weights touch nothing).</summary>
    private static double[] Kernel(double sigma, int maxRadius)
    {
        if (sigma == 0) return [1.0];
        int radius = (int)Math.Min(Math.Ceiling(3 * sigma), maxRadius);
        var kernel = new double[2 * radius + 1];
        for (int d = -radius; d <= radius; d++)
            kernel[d + radius] = Math.Exp(-(double)d * d / (2 * sigma * sigma));
        return kernel;
    }
}
