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
    public static readonly MapOptions Default = new();
    public double Sigma { get; init; } = 20;
    public double OutlierRadius { get; init; } = 0.1;
    public double OutlierFraction { get; init; } = 0.05;
    public BoxMode Box { get; init; } = BoxMode.Points;
    public double BoxThreshold { get; init; } = 0.5;

    /// <summary>Weighted rules: the points are the input pixels that together hold this share of the weight, heaviest first.</summary>
    public double PointMass { get; init; } = 0.5;

    /// <summary>The map settings of the weighted rules (the default): heat map of the weights, box by threshold.</summary>
    public static readonly MapOptions Weighted = new() { Box = BoxMode.Threshold, Sigma = 20 };
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

    public int Width { get; }
    public int Height { get; }
    /// <summary>One point per input fixation (c, y, x), in the order of the fixations, in original-image pixels.</summary>
    public IReadOnlyList<(int X, int Y)> Points { get; }
    public IReadOnlyList<(int X, int Y)> KeptPoints { get; }
    /// <summary>Row-major Height x Width map normalized to a maximum of 1.</summary>
    public float[] Heat { get; }
    /// <summary>[xmin, ymin, xmax, ymax] in original-image pixels, or null when nothing was fixated.</summary>
    public int[]? Box { get; }

    public static FixationMap Build(FixationSet inputFixations, ExplanationInput input, MapOptions? options = null)
    {
        options ??= MapOptions.Default;
        var points = new List<(int X, int Y)>(inputFixations.Count);
        foreach (var neuron in inputFixations.ToNeurons())
            points.Add(input.MapToImage(neuron[1], neuron[2]));
        return Build(points, input.Width, input.Height, options);
    }

    /// <summary>The map of an explanation: from its weights (weighted rules) or from its input fixations (the paper's rules).</summary>
    public static FixationMap Build(TensorExplanation explanation, ExplanationInput input, MapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        if (explanation.Weights is not { } weighted) return Build(explanation.Fixations.Input, input, options);
        var (points, weights) = WeightedPoints(weighted, input);
        return BuildWeighted(points, weights, input.Width, input.Height, options ?? MapOptions.Weighted);
    }

    /// <summary>Every input pixel with weight, mapped onto the image, with its weight summed over the channels (row-major order).</summary>
    public static (List<(int X, int Y)> Points, List<double> Weights) WeightedPoints(WeightedResult weighted, ExplanationInput input)
    {
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
            points.Add(input.MapToImage(p / w, p % w));
            weights.Add(sum);
        }
        return (points, weights);
    }

    /// <summary>
    /// The map of weighted points: the heat map blurs every point with its weight; the points reported
    /// (and kept: no outlier removal, so a map is never emptied) are the heaviest that together hold
    /// <see cref="MapOptions.PointMass"/> of the weight, in their original order.
    /// </summary>
    public static FixationMap BuildWeighted(IReadOnlyList<(int X, int Y)> points, IReadOnlyList<double> weights, int width, int height, MapOptions options)
    {
        var heat = HeatMap.FromWeightedPoints(points, weights, width, height, options.Sigma);
        var order = Enumerable.Range(0, points.Count).OrderByDescending(i => weights[i]).ThenBy(i => i).ToArray();
        double total = 0;
        foreach (double v in weights) total += v;
        var chosen = new bool[points.Count];
        double acc = 0;
        foreach (int i in order)
        {
            if (acc >= options.PointMass * total) break;
            chosen[i] = true;
            acc += weights[i];
        }
        var selected = new List<(int X, int Y)>();
        for (int i = 0; i < points.Count; i++) if (chosen[i]) selected.Add(points[i]);
        var box = options.Box == BoxMode.Points ? BoxFinder.FromPoints(selected) : BoxFinder.FromThreshold(heat, width, height, options.BoxThreshold);
        return new FixationMap(width, height, selected, selected, heat, box);
    }

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
