namespace CnnFixations.Baselines;

/// <summary>
/// A saliency map over the original image, normalized to a maximum of 1 (all zeros when nothing is
/// salient), with the method's own points and box where it has them (CNN Fixations: the fixation
/// points and their tight box).
/// </summary>
public sealed record SaliencyMap(float[] Heat, int Width, int Height, IReadOnlyList<(int X, int Y)>? Points = null, int[]? Box = null);

/// <summary>An explanation method that maps one class of one input to a heat map over the image.</summary>
public interface ISaliencyMethod
{
    /// <summary>"fixations", "cam", "gradcam" or "gradient".</summary>
    string Name { get; }

    /// <summary>Why the method does not apply to the explainer's model, or null when it does.</summary>
    string? NotApplicable(Explainer explainer);

    /// <summary>The map for class <paramref name="target"/> of <paramref name="input"/>.</summary>
    SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target);
}

/// <summary>CNN Fixations itself as a saliency method: the heat map of the kept fixation points.</summary>
public sealed class FixationsMethod : ISaliencyMethod
{
    private readonly MapOptions _options;

    public FixationsMethod(MapOptions? options = null) => _options = options ?? MapOptions.Default;

    public string Name => "fixations";

    public string? NotApplicable(Explainer explainer) => null;

    public SaliencyMap Compute(Explainer explainer, ExplanationInput input, int target)
    {
        using var forward = explainer.Forward(input.Tensor);
        var e = explainer.Unravel(forward, target);
        var map = FixationMap.Build(e, input, _options);
        return new SaliencyMap(map.Heat, map.Width, map.Height, map.KeptPoints, map.Box);
    }
}
