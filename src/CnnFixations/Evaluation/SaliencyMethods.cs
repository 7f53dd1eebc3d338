using CnnFixations.Baselines;

namespace CnnFixations.Evaluation;

/// <summary>The saliency methods the evaluation knows by name. Add a method with one line in <see cref="All"/>.</summary>
public static class SaliencyMethods
{
    /// <summary>Name -> factory (given the map options, which only CNN Fixations uses), in the order they are listed.</summary>
    public static IReadOnlyDictionary<string, Func<MapOptions, ISaliencyMethod>> All { get; } =
        new Dictionary<string, Func<MapOptions, ISaliencyMethod>>(StringComparer.Ordinal)
        {
            ["fixations"] = options => new FixationsMethod(options),
            ["cam"] = _ => new CamMethod(),
            ["gradcam"] = _ => new GradCamMethod(),
            ["gradient"] = _ => new GradientMethod(),
            ["center"] = _ => new CenterGaussianMethod(),
            ["whole-image"] = _ => new WholeImageMethod(),
        };

    /// <summary>The names, comma-separated, for messages.</summary>
    public static string Names => string.Join(", ", All.Keys);

    /// <summary>The methods named in a comma-separated list (duplicates dropped); null for an unknown or empty name.</summary>
    public static IReadOnlyList<ISaliencyMethod>? TryCreate(string list, MapOptions options, out string? unknown)
    {
        var result = new List<ISaliencyMethod>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in list.Split(','))
        {
            string name = part.Trim().ToLowerInvariant();
            if (!All.TryGetValue(name, out var factory))
            {
                unknown = name;
                return null;
            }
            if (seen.Add(name)) result.Add(factory(options));
        }
        unknown = null;
        return result;
    }
}
