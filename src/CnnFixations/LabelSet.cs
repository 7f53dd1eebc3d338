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
        var near = Enumerable.Range(0, labels.Count).Where(i => labels[i]!.Contains(wanted, StringComparison.OrdinalIgnoreCase)).Take(5).ToList();
        throw new CnnFixationsException($"unknown class name '{spec}'" + (near.Count > 0 ? $"; did you mean {string.Join(", ", near.Select(i => $"'{labels[i]}' ({i})"))}?" : "; give a label from the labels file or a class index"));
    }
}
