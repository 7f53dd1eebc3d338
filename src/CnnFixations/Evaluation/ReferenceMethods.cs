using CnnFixations.Baselines;

namespace CnnFixations.Evaluation;

/// <summary>
/// Reference "method" that never looks at the image or the model: an isotropic Gaussian centred on the image,
/// exp(-r² / 2σ²) with r the distance to the centre ((W - 1) / 2, (H - 1) / 2) and σ = min(W, H) / 4,
/// maximum 1. It measures how far a metric rewards the centre prior of photos.
/// </summary>
public sealed class CenterGaussianMethod : ISaliencyMethod
{
    /// <summary>σ as a fraction of the image's short side.</summary>
    public const double SigmaFraction = 0.25;

    public string Name => "center";

    public string? NotApplicable(Explainer explainer) => null;

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target) =>
        new(Map(input.Width, input.Height), input.Width, input.Height);

    public static float[] Map(int width, int height)
    {
        double sigma = SigmaFraction * Math.Min(width, height);
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0, k = -1 / (2 * sigma * sigma);
        var gx = new double[width];
        for (int x = 0; x < width; x++) gx[x] = Math.Exp(k * (x - cx) * (x - cx));
        var heat = new float[(long)width * height];
        for (int y = 0; y < height; y++)
        {
            double gy = Math.Exp(k * (y - cy) * (y - cy));
            for (int x = 0; x < width; x++) heat[y * width + x] = (float)(gy * gx[x]);
        }
        return heat;
    }
}

/// <summary>
/// Reference "method" whose map is flat (1 everywhere) and whose box is the whole image. A flat map points at
/// the image centre (<see cref="MapStatistics.PointOf"/>), spreads its mass evenly (a tile of a k x k collage
/// holds 1/k² of it) and orders pixels for deletion/insertion row by row (ties by index).
/// </summary>
public sealed class WholeImageMethod : ISaliencyMethod
{
    public string Name => "whole-image";

    public string? NotApplicable(Explainer explainer) => null;

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target)
    {
        var heat = new float[(long)input.Width * input.Height];
        Array.Fill(heat, 1f);
        return new SaliencyMap(heat, input.Width, input.Height, Box: new[] { 0, 0, input.Width - 1, input.Height - 1 });
    }
}
