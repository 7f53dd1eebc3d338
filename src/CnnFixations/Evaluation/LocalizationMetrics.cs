namespace CnnFixations.Evaluation;

/// <summary>The per-image arithmetic of the evaluation: box overlap, pointing game, curve areas and saliency order.</summary>
public static class LocalizationMetrics
{
    /// <summary>IoU >= this with a ground-truth box counts as localized.</summary>
    public const double IouThreshold = 0.5;

    /// <summary>The pointing game's tolerance in pixels (TorchRay's default).</summary>
    public const double PointingTolerance = 15;

    /// <summary>
    /// Intersection over union of two boxes [xmin, ymin, xmax, ymax] in inclusive pixel coordinates:
    /// a box covers (xmax - xmin + 1) x (ymax - ymin + 1) pixels (fractional coordinates are used as they are).
    /// </summary>
    public static double Iou(double ax0, double ay0, double ax1, double ay1, double bx0, double by0, double bx1, double by1)
    {
        double iw = Math.Min(ax1, bx1) - Math.Max(ax0, bx0) + 1;
        double ih = Math.Min(ay1, by1) - Math.Max(ay0, by0) + 1;
        if (iw <= 0 || ih <= 0) return 0;
        double inter = iw * ih;
        double a = (ax1 - ax0 + 1) * (ay1 - ay0 + 1);
        double b = (bx1 - bx0 + 1) * (by1 - by0 + 1);
        return inter / (a + b - inter);
    }

    public static double Iou(int[] box, GroundTruthBox gt) => Iou(box[0], box[1], box[2], box[3], gt.XMin, gt.YMin, gt.XMax, gt.YMax);

    /// <summary>The best IoU of <paramref name="box"/> with the ground-truth boxes of class <paramref name="classIndex"/> (0 when the box is null or there are none).</summary>
    public static double BestIou(int[]? box, IEnumerable<GroundTruthBox> boxes, int classIndex)
    {
        if (box == null) return 0;
        double best = 0;
        foreach (var gt in boxes)
            if (gt.ClassIndex == classIndex) best = Math.Max(best, Iou(box, gt));
        return best;
    }

    /// <summary>A hit when some box of class <paramref name="classIndex"/>, grown by <paramref name="tolerance"/> pixels on every side, contains pixel (x, y).</summary>
    public static bool PointingHit(int x, int y, IEnumerable<GroundTruthBox> boxes, int classIndex, double tolerance = PointingTolerance)
    {
        foreach (var gt in boxes)
            if (gt.ClassIndex == classIndex
                && x >= gt.XMin - tolerance && x <= gt.XMax + tolerance
                && y >= gt.YMin - tolerance && y <= gt.YMax + tolerance)
                return true;
        return false;
    }

    /// <summary>The first (row-major) pixel holding the map's maximum, as (x, y).</summary>
    public static (int X, int Y) ArgMax(float[] map, int width)
    {
        int best = 0;
        for (int i = 1; i < map.Length; i++) if (map[i] > map[best]) best = i;
        return (best % width, best / width);
    }

    /// <summary>The area under a curve sampled at equally spaced points from 0 to 1 (trapezoid rule).</summary>
    public static double TrapezoidAuc(IReadOnlyList<double> values)
    {
        if (values.Count < 2) throw new ArgumentException("a curve needs at least two points", nameof(values));
        double sum = 0;
        for (int i = 0; i + 1 < values.Count; i++) sum += (values[i] + values[i + 1]) / 2;
        return sum / (values.Count - 1);
    }

    /// <summary>Pixel indices ordered by decreasing saliency; equal values by increasing index.</summary>
    public static int[] SaliencyOrder(float[] saliency)
    {
        var order = new int[saliency.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int c = saliency[b].CompareTo(saliency[a]);
            return c != 0 ? c : a.CompareTo(b);
        });
        return order;
    }

    /// <summary>How many of <paramref name="total"/> pixels are the top <paramref name="step"/>/<paramref name="steps"/> (rounded half up).</summary>
    public static int StepCount(int step, int steps, int total) => (int)(((long)step * total * 2 + steps) / (2L * steps));
}
