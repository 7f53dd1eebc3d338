using CnnFixations.Baselines;
using CnnFixations.Evaluation;

namespace CnnFixations;

/// <summary>What a registered method is for.</summary>
public enum MethodKind
{
    /// <summary>An explanation of the model's decision (CNN Fixations and the baselines it is compared with): <c>explain --method</c> offers it.</summary>
    Explanation,
    /// <summary>A reference map that never looks at the model (a centre prior, the whole image): only <c>evaluate</c> scores it, as a floor for the metrics.</summary>
    Reference,
}

/// <summary>One method of the registry: its name, what it is for, and how to create it.</summary>
/// <param name="Name">The name on the command line and in the JSON ("fixations", "gradcam", ...).</param>
/// <param name="Kind">Whether <c>explain</c> offers it or only <c>evaluate</c>.</param>
/// <param name="Description">A few words for help texts.</param>
/// <param name="Create">The method, given the map options (which only CNN Fixations uses).</param>
public sealed record ExplanationMethod(string Name, MethodKind Kind, string Description, Func<MapOptions, ISaliencyMethod> Create);

/// <summary>
/// The saliency methods known by name, for <c>explain --method</c>, <c>evaluate --methods</c> and
/// <see cref="ExplainOptions.Method"/>. Add a method with one line in <see cref="All"/>.
/// </summary>
public static class ExplanationMethods
{
    /// <summary>CNN Fixations itself.</summary>
    public const string Fixations = "fixations";

    /// <summary>Every method, in the order help texts and messages list them.</summary>
    public static IReadOnlyList<ExplanationMethod> All { get; } = new ExplanationMethod[]
    {
        new(Fixations, MethodKind.Explanation, "CNN Fixations", options => new FixationsMethod(options)),
        new("cam", MethodKind.Explanation, "class activation mapping", _ => new CamMethod()),
        new("gradcam", MethodKind.Explanation, "Grad-CAM", _ => new GradCamMethod()),
        new("gradient", MethodKind.Explanation, "vanilla gradient", _ => new GradientMethod()),
        new("center", MethodKind.Reference, "a centred Gaussian", _ => new CenterGaussianMethod()),
        new("whole-image", MethodKind.Reference, "a flat map, the whole image boxed", _ => new WholeImageMethod()),
    };

    /// <summary>The names of the methods <c>explain</c> offers (<see cref="MethodKind.Explanation"/>), fixations first.</summary>
    public static IReadOnlyList<string> ExplainNames { get; } = All.Where(m => m.Kind == MethodKind.Explanation).Select(m => m.Name).ToArray();

    /// <summary>The explanation methods other than CNN Fixations (what <c>explain --method all</c> adds to it).</summary>
    public static IReadOnlyList<string> Baselines { get; } = ExplainNames.Where(n => n != Fixations).ToArray();

    /// <summary>Every name, comma-separated, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    /// <summary>The method named <paramref name="name"/> (exact, lower case), or null.</summary>
    public static ExplanationMethod? Find(string name) => All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.Ordinal));

    /// <summary>Creates the method named <paramref name="name"/>; an unknown name is a <see cref="CnnFixationsException"/> that lists the known ones.</summary>
    public static ISaliencyMethod Create(string name, MapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var method = Find(name) ?? throw new CnnFixationsException($"unknown method '{name}'; available: {Names}");
        return method.Create(options ?? MapOptions.Default);
    }

    /// <summary>The methods named in a comma-separated list (duplicates dropped); null for an unknown or empty name.</summary>
    public static IReadOnlyList<ISaliencyMethod>? TryCreate(string list, MapOptions options, out string? unknown)
    {
        ArgumentNullException.ThrowIfNull(list);
        var result = new List<ISaliencyMethod>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in list.Split(','))
        {
            string name = part.Trim().ToLowerInvariant();
            if (Find(name) is not { } method)
            {
                unknown = name;
                return null;
            }
            if (seen.Add(name)) result.Add(method.Create(options));
        }
        unknown = null;
        return result;
    }
}
