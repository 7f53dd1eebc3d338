using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>Class names by output index (one per line of a text file).</summary>
public sealed class LabelSet
{
    private readonly string[] _names;

    /// <summary>The names in output order.</summary>
    public LabelSet(IEnumerable<string> names) => _names = names.ToArray();

    /// <summary>How many names there are.</summary>
    public int Count => _names.Length;

    /// <summary>The name of output <paramref name="index"/>, or null past the end.</summary>
    public string? this[int index] => index >= 0 && index < _names.Length ? _names[index] : null;

    /// <summary>One name per line of the text file at <paramref name="path"/>.</summary>
    public static LabelSet Load(string path)
    {
        if (!File.Exists(path)) throw new CnnFixationsException($"labels file '{path}' not found");
        return new LabelSet(File.ReadAllLines(path).Select(l => l.Trim()));
    }

    /// <summary>The labels named by the model's metadata (key <c>labels</c>: a file next to the model), or null.</summary>
    public static LabelSet? FromModel(OnnxModel model)
    {
        if (model.Directory == null || !model.Metadata.TryGetValue("labels", out var name) || string.IsNullOrWhiteSpace(name)) return null;
        if (name.Contains('\n')) return new LabelSet(name.Split('\n').Select(l => l.Trim()));
        string path = Path.Combine(model.Directory, name);
        return File.Exists(path) && Path.GetFileName(name) == name ? Load(path) : null;
    }

    /// <summary>
    /// A warning when the model's metadata names a labels file that is not beside the model (its classes are
    /// then shown by index only); null when it names none or the file is there.
    /// </summary>
    public static string? MissingFileWarning(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Directory == null || !model.Metadata.TryGetValue("labels", out var name) || string.IsNullOrWhiteSpace(name) || name.Contains('\n')) return null;
        if (Path.GetFileName(name) != name)
            return $"the model's metadata names labels file '{name}', which is not a file name beside the model; classes are shown by index only";
        string path = Path.Combine(model.Directory, name);
        return File.Exists(path) ? null : $"labels file '{path}' named by the model's metadata is missing; classes are shown by index only";
    }

    /// <summary>
    /// Up to <paramref name="count"/> labels (output indices below <paramref name="classCount"/>) most like
    /// <paramref name="wanted"/>, most alike first: a label with <paramref name="wanted"/> as one of its words,
    /// then containing it, then close in spelling (edit distance), its main name before its synonyms; among
    /// equals the shorter label, then the lower index.
    /// </summary>
    public static IReadOnlyList<int> Suggestions(string wanted, LabelSet labels, int classCount, int count)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        ArgumentNullException.ThrowIfNull(labels);
        string w = wanted.Trim().ToLowerInvariant();
        if (w.Length == 0) return Array.Empty<int>();
        var scored = new List<(int Index, double Score, int Length)>();
        for (int i = 0; i < Math.Min(labels.Count, classCount); i++)
        {
            string label = labels[i]!;
            var parts = label.Split(',').Select(p => p.Trim().ToLowerInvariant()).ToArray();
            double best = 0;
            for (int k = 0; k < parts.Length; k++)
            {
                string part = parts[k];
                if (part.Length == 0) continue;
                double score;
                if (part.Split(' ', '-', '\'').Contains(w)) score = 3;
                else if (part.Contains(w, StringComparison.Ordinal)) score = 2;
                else
                {
                    double similarity = 1 - (double)EditDistance(w, part) / Math.Max(w.Length, part.Length);
                    score = similarity >= 0.6 ? similarity : 0;
                }
                // The label's main name (before the first comma) counts more than its synonyms.
                if (score > 0 && k == 0) score += 0.5;
                best = Math.Max(best, score);
            }
            if (best > 0) scored.Add((i, best, label.Length));
        }
        return scored.OrderByDescending(s => s.Score).ThenBy(s => s.Length).ThenBy(s => s.Index).Take(count).Select(s => s.Index).ToList();
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>
    /// Resolves a class given as an index or a name (the whole label, or one of its comma-separated synonyms, case-insensitive).
    /// </summary>
    public static int Resolve(string spec, LabelSet? labels, int classCount)
    {
        if (int.TryParse(spec, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int index))
        {
            if (index < 0 || index >= classCount)
                throw new CnnFixationsException($"class index {index} is out of range: the model has {classCount} classes (0..{classCount - 1})");
            return index;
        }
        if (long.TryParse(spec, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long big))
            throw new CnnFixationsException($"class index {big} is out of range: the model has {classCount} classes (0..{classCount - 1})");
        if (labels == null)
            throw new CnnFixationsException($"class '{spec}' is not an index and the model has no labels (give --labels FILE or a class index)");
        string wanted = spec.Trim();
        var exact = Enumerable.Range(0, labels.Count).Where(i => string.Equals(labels[i], wanted, StringComparison.OrdinalIgnoreCase)).ToList();
        if (exact.Count == 0)
            exact = Enumerable.Range(0, labels.Count)
                .Where(i => labels[i]!.Split(',').Any(part => string.Equals(part.Trim(), wanted, StringComparison.OrdinalIgnoreCase)))
                .ToList();
        if (exact.Count == 1 && exact[0] < classCount) return exact[0];
        if (exact.Count > 1)
            throw new CnnFixationsException($"class name '{spec}' is ambiguous: {string.Join("; ", exact.Select(i => $"{i} ({labels[i]})"))}; give the index");
        var near = Suggestions(wanted, labels, classCount, 5);
        throw new CnnFixationsException($"unknown class name '{spec}'" + (near.Count > 0 ? $"; did you mean {string.Join(", ", near.Select(i => $"'{labels[i]}' ({i})"))}?" : "; give a label from the labels file or a class index"));
    }
}
