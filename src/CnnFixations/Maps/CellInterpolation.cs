namespace CnnFixations.Maps;

/// <summary>
/// Linear interpolation between the centres of equal cells along one axis (the weights of bilinear
/// upsampling): with cells <c>span</c> pixels wide, cell i's centre lies at pixel coordinate
/// <c>(i + 1/2) * span - 1/2</c>; a pixel between two centres takes both by linear interpolation, a pixel
/// beyond the outer centres the outer cell alone. Exact rational arithmetic, so the split is mirror-symmetric.
/// Used by the weighted rules' soft cells and by the coarse heat-map blur.
/// </summary>
internal static class CellInterpolation
{
    /// <summary>
    /// For each of <paramref name="size"/> pixels: the lower and upper cell and the upper cell's part (0 when the
    /// pixel belongs to one cell). The cell width is <paramref name="spanNumerator"/> / <paramref name="spanDenominator"/> pixels.
    /// </summary>
    public static (int Lo, int Hi, double Part)[] Along(int size, int cells, long spanNumerator, long spanDenominator)
    {
        var result = new (int, int, double)[size];
        for (int p = 0; p < size; p++)
        {
            // position in cell units, 0 at the first centre: t = ((p + 1/2) / span) - 1/2 = num / den
            long num = (2L * p + 1) * spanDenominator - spanNumerator;
            long den = 2L * spanNumerator;
            if (cells < 2 || num <= 0) { result[p] = (0, 0, 0); continue; }
            if (num >= (cells - 1) * den) { result[p] = (cells - 1, cells - 1, 0); continue; }
            int i = (int)(num / den);
            result[p] = (i, i + 1, (double)(num - i * den) / den);
        }
        return result;
    }
}
