using CnnFixations.Maps;
using CnnFixations.Unravel;

namespace CnnFixations;

/// <summary>How a box is drawn around the fixations.</summary>
public enum BoxMode
{
    /// <summary>The tight box of the kept points (the authors' choice, the spec's default).</summary>
    Points,
    /// <summary>Threshold the heat map at a fraction of its maximum and box the largest connected component (the CAM / Grad-CAM protocol).</summary>
    Threshold,
}

/// <summary>The spec's options for turning fixations into a heat map and a box.</summary>
public sealed record MapOptions
{
    /// <summary>The specification's values.</summary>
    public static readonly MapOptions Default = new();
    /// <summary>The standard deviation of the Gaussian blur of the kept points, in original-image pixels.</summary>
    public double Sigma { get; init; } = 20;
    /// <summary>The neighbourhood of a point for outlier removal, as a fraction of the image diagonal.</summary>
    public double OutlierRadius { get; init; } = 0.1;
    /// <summary>The fraction of all points a point needs within <see cref="OutlierRadius"/> to be kept.</summary>
    public double OutlierFraction { get; init; } = 0.05;
    /// <summary>How the box is drawn.</summary>
    public BoxMode Box { get; init; } = BoxMode.Points;
    /// <summary>For <see cref="BoxMode.Threshold"/>: the fraction of the heat map's maximum.</summary>
    public double BoxThreshold { get; init; } = 0.5;

    /// <summary>
    /// Weighted rules: the share (0..1) of the heat map that is a second, coarse blur of the same weights
    /// (<see cref="CoarseSigma"/>); the rest is the blur at <see cref="Sigma"/>. Each blur is normalized to
    /// a maximum of 1 before they are mixed. 0: one blur only (the paper rules always use one).
    /// </summary>
    public double CoarseShare { get; init; }
    /// <summary>Weighted rules: the standard deviation of the coarse blur, in network-input pixels (scaled to the image by the input's geometry).</summary>
    public double CoarseSigma { get; init; } = 32;

    /// <summary>The map settings of the weighted rules (the default): heat map of the weights, box by threshold.</summary>
    public static readonly MapOptions Weighted = new() { Box = BoxMode.Threshold, Sigma = 2, SigmaInInputPixels = true, CoarseShare = 0.7, CoarseSigma = 32, ExtentFloor = 0.8 };

    /// <summary>
    /// Weighted rules: <see cref="Sigma"/> is in network-input pixels, scaled to the image by the input's geometry
    /// (the weighted default: one input pixel, the spacing of the weights on the image), instead of original-image pixels.
    /// </summary>
    public bool SigmaInInputPixels { get; init; }

    /// <summary>
    /// Weighted rules: each blur is divided by the share of its Gaussian that falls inside the image, so that weight
    /// near a border is not dimmed by the part of its blur that falls outside (an even weight blurs to an even map up
    /// to the edges, as the bilinear upsampling of CAM and Grad-CAM is). False: the plain blur, which fades over the
    /// outer three sigma of the image.
    /// </summary>
    public bool EvenAtBorders { get; init; }

    /// <summary>
    /// Weighted rules with a coarse blur (<see cref="CoarseShare"/> above 0): the heat map is raised, pixel by pixel, to
    /// at least this fraction (0 to below 1; 0: off) of the coarse blur made even at the borders (as <see cref="EvenAtBorders"/>
    /// does), normalized to a maximum of 1. The object's extent then reaches the borders as CAM's does, while the fine
    /// peaks above it, the map's maximum and the box (thresholded on the coarse blur as <see cref="EvenAtBorders"/> makes it,
    /// not on the floor) stay as they are.
    /// </summary>
    public double ExtentFloor { get; init; }
}

/// <summary>Fixations mapped onto the original image: points, the points kept after outlier removal, the heat map and the box.</summary>
public sealed class FixationMap
{
    private FixationMap(int width, int height, IReadOnlyList<(int X, int Y)> points, IReadOnlyList<(int X, int Y)> kept, float[] heat, int[]? box)
    {
        Width = width;
        Height = height;
        Points = points;
        KeptPoints = kept;
        Heat = heat;
        Box = box;
    }

    /// <summary>Width of the original image.</summary>
    public int Width { get; }
    /// <summary>Height of the original image.</summary>
    public int Height { get; }
    /// <summary>One point per input fixation (c, y, x), in the order of the fixations, in original-image pixels.</summary>
    public IReadOnlyList<(int X, int Y)> Points { get; }
    /// <summary>The points that survive outlier removal.</summary>
    public IReadOnlyList<(int X, int Y)> KeptPoints { get; }
    /// <summary>Row-major Height x Width map normalized to a maximum of 1.</summary>
    public float[] Heat { get; }
    /// <summary>[xmin, ymin, xmax, ymax] in original-image pixels, or null when nothing was fixated.</summary>
    public int[]? Box { get; }

    /// <summary>Maps the input fixations (c, y, x) to the original image of <paramref name="input"/>, then removes outliers, blurs and boxes.</summary>
    public static FixationMap Build(FixationSet inputFixations, ExplanationInput input, MapOptions? options = null)
    {
        options ??= MapOptions.Default;
        var points = new List<(int X, int Y)>(inputFixations.Count);
        foreach (var neuron in inputFixations.ToNeurons())
            points.Add(input.MapToImage(neuron[1], neuron[2]));
        return Build(points, input.Width, input.Height, options);
    }

    /// <summary>
    /// The map of an explanation. Paper rules: from its input fixations (<see cref="Build(FixationSet, ExplanationInput, MapOptions?)"/>).
    /// Weighted rules: the heat map blurs every input pixel's weight at its image pixel; the points (and kept
    /// points: there is no outlier removal, so a map is never emptied) are the input fixations, one per pixel.
    /// </summary>
    public static FixationMap Build(TensorExplanation explanation, ExplanationInput input, MapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        if (explanation.Weights is not { } weighted) return Build(explanation.Fixations.Input, input, options);
        options ??= MapOptions.Weighted;
        var (all, weights) = WeightedPoints(weighted, input);
        var points = new List<(int X, int Y)>(explanation.Fixations.Input.Count);
        foreach (var neuron in explanation.Fixations.Input.ToNeurons())
            points.Add(input.MapToImage(neuron[1], neuron[2]));
        double perInputPixel = input.Geometry.ImagePixelsPerInputPixel(input.Tensor.Shape[2], input.Tensor.Shape[3]);
        var heat = HeatMap.FromWeightedPoints(all, weights, input.Width, input.Height, options.SigmaInInputPixels ? options.Sigma * perInputPixel : options.Sigma,
            options.EvenAtBorders);
        float[] extent = heat;
        if (options.CoarseShare > 0)
        {
            double sigma = options.CoarseSigma * perInputPixel;
            extent = HeatMap.FromWeightedPointsCoarse(all, weights, input.Width, input.Height, sigma, options.EvenAtBorders);
            heat = HeatMap.Mix(heat, extent, options.CoarseShare);
            if (options.ExtentFloor > 0)
            {
                var evenExtent = options.EvenAtBorders ? extent : HeatMap.FromWeightedPointsCoarse(all, weights, input.Width, input.Height, sigma, evenAtBorders: true);
                HeatMap.WithFloor(heat, evenExtent, options.ExtentFloor);
            }
        }
        // The box marks the object's extent: with a two-scale map, the coarse blur is thresholded (the fine part's
        // peaks would shrink the region above a fraction of the maximum to the sharpest detail).
        var box = options.Box == BoxMode.Points ? BoxFinder.FromPoints(points) : BoxFinder.FromThreshold(extent, input.Width, input.Height, options.BoxThreshold);
        return new FixationMap(input.Width, input.Height, points, points, heat, box);
    }

    /// <summary>
    /// Every input pixel with weight, its weight summed over the channels and placed where the pixel's centre lies on
    /// the image: shared bilinearly among the (up to) four image pixels whose centres surround that point (clamped at
    /// the borders), in row-major order of the input pixels. Placing each weight on the one pixel that contains the
    /// centre would leave an image row or column without weight wherever the image is slightly larger than the
    /// input (every 75th row of a 227-px photo at 224), and a fine blur shows those rows as dark lines.
    /// </summary>
    public static (List<(int X, int Y)> Points, List<double> Weights) WeightedPoints(WeightedResult weighted, ExplanationInput input)
    {
        ArgumentNullException.ThrowIfNull(weighted);
        ArgumentNullException.ThrowIfNull(input);
        var shape = weighted.InputShape;
        int channels = shape.Length == 4 ? shape[1] : 1, h = shape[^2], w = shape[^1], plane = h * w;
        var points = new List<(int X, int Y)>();
        var weights = new List<double>();
        for (int p = 0; p < plane; p++)
        {
            double sum = 0;
            for (int c = 0; c < channels; c++)
            {
                float v = weighted.Input[c * plane + p];
                if (v > 0) sum += v;
            }
            if (!(sum > 0)) continue;
            var (cx, cy) = input.CentreInImage(p / w, p % w);
            var (x0, fx) = Straddle(cx, input.Width);
            var (y0, fy) = Straddle(cy, input.Height);
            Add(x0, y0, sum * (1 - fx) * (1 - fy));
            if (fx > 0) Add(x0 + 1, y0, sum * fx * (1 - fy));
            if (fy > 0) Add(x0, y0 + 1, sum * (1 - fx) * fy);
            if (fx > 0 && fy > 0) Add(x0 + 1, y0 + 1, sum * fx * fy);
        }
        return (points, weights);

        void Add(int x, int y, double weight)
        {
            points.Add((x, y));
            weights.Add(weight);
        }
    }

    /// <summary>
    /// The image pixel whose centre is at or before continuous coordinate <paramref name="centre"/> (pixel k's centre is
    /// k + 1/2) and the part of the weight that goes to the next pixel; all of it stays on the first (last) pixel
    /// before the first (after the last) pixel centre.
    /// </summary>
    private static (int First, double Next) Straddle(double centre, int size)
    {
        double u = centre - 0.5;
        if (!(u > 0)) return (0, 0);
        if (u >= size - 1) return (size - 1, 0);
        int first = (int)Math.Floor(u);
        return (first, u - first);
    }

    /// <summary>Removes outliers from points in a width x height image, blurs the kept ones into the heat map and boxes them.</summary>
    public static FixationMap Build(IReadOnlyList<(int X, int Y)> points, int width, int height, MapOptions options)
    {
        var keep = OutlierFilter.Keep(points, width, height, options.OutlierRadius, options.OutlierFraction);
        var kept = new List<(int X, int Y)>();
        for (int i = 0; i < points.Count; i++) if (keep[i]) kept.Add(points[i]);
        var heat = HeatMap.FromPoints(kept, width, height, options.Sigma);
        var box = options.Box == BoxMode.Points
            ? BoxFinder.FromPoints(kept)
            : BoxFinder.FromThreshold(heat, width, height, options.BoxThreshold);
        return new FixationMap(width, height, points, kept, heat, box);
    }
}
