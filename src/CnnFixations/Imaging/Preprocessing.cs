using System.Globalization;

namespace CnnFixations.Imaging;

/// <summary>
/// How pixel values become network inputs: for a pixel value p (0..255) of channel c, in the model's
/// channel order (RGB, or BGR when <see cref="Bgr"/>), x = (p * Scale - Mean[c]) / Std[c].
/// </summary>
public sealed record Preprocessing(string Name, float[] Mean, float[] Std, float Scale, bool Bgr)
{
    /// <summary>PyTorch / torchvision ImageNet models: RGB scaled to 0..1, ImageNet mean and std.</summary>
    public static Preprocessing Torchvision { get; } =
        new("torchvision", [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 1f / 255f, false);

    /// <summary>Caffe / Keras "caffe" mode: BGR, 0..255 minus the ImageNet mean (given in B, G, R order).</summary>
    public static Preprocessing Caffe { get; } =
        new("caffe", [103.939f, 116.779f, 123.68f], [1f, 1f, 1f], 1f, true);

    /// <summary>TensorFlow / Keras "tf" mode: RGB mapped to -1..1 (x = p / 127.5 - 1).</summary>
    public static Preprocessing Tf { get; } =
        new("tf", [1f, 1f, 1f], [1f, 1f, 1f], 1f / 127.5f, false);

    private static readonly Preprocessing[] Presets = [Torchvision, Caffe, Tf];

    /// <summary>The preset called <paramref name="name"/> (torchvision, caffe or tf; any case).</summary>
    public static Preprocessing FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return FindPreset(name.Trim())
            ?? throw new CnnFixationsException($"unknown preprocessing '{name}': expected one of {string.Join(", ", Presets.Select(p => p.Name))}");
    }

    /// <summary>
    /// The preprocessing a model declares in its metadata_props: "mean" and "std" (comma-separated, in
    /// pixel units 0..255, one value or three in the model's channel order) with an optional "color_order"
    /// ("BGR" or "RGB"), or "preprocessing" naming a preset. Null when the model declares none.
    /// </summary>
    public static Preprocessing? FromMetadata(IReadOnlyDictionary<string, string> props)
    {
        ArgumentNullException.ThrowIfNull(props);
        bool hasMean = props.TryGetValue("mean", out var meanText);
        bool hasStd = props.TryGetValue("std", out var stdText);
        if (hasMean != hasStd)
            throw new CnnFixationsException($"the model's metadata has '{(hasMean ? "mean" : "std")}' but not '{(hasMean ? "std" : "mean")}'; both are needed");
        if (hasMean)
        {
            var mean = ParseTriple("mean", meanText!);
            var std = ParseTriple("std", stdText!);
            if (std.Any(s => s == 0))
                throw new CnnFixationsException($"the model's metadata 'std' value '{stdText}' contains a zero");
            bool bgr = props.TryGetValue("color_order", out var order) && order.Trim().Equals("BGR", StringComparison.OrdinalIgnoreCase);
            return new Preprocessing("model", mean, std, 1f, bgr);
        }
        return props.TryGetValue("preprocessing", out var preset) ? FindPreset(preset.Trim()) : null;
    }

    /// <summary>
    /// The network input for <paramref name="resized"/> (already at the model's input size): CHW float32,
    /// 3*H*W values, channels in the model's order.
    /// </summary>
    public float[] ToTensor(RgbImage resized)
    {
        ArgumentNullException.ThrowIfNull(resized);
        if (Mean.Length != 3 || Std.Length != 3)
            throw new CnnFixationsException($"preprocessing '{Name}' needs 3 mean and 3 std values, has {Mean.Length} and {Std.Length}");
        int plane = resized.Width * resized.Height;
        var tensor = new float[3 * plane];
        var pixels = resized.Pixels;
        for (int c = 0; c < 3; c++)
        {
            // Channel c of the model reads image channel 2-c for BGR models.
            int source = Bgr ? 2 - c : c;
            var table = ValueTable(c);
            var dst = tensor.AsSpan(c * plane, plane);
            for (int i = 0; i < plane; i++)
                dst[i] = table[pixels[3 * i + source]];
        }
        return tensor;
    }

    /// <summary>The network value of each pixel value 0..255 for model channel <paramref name="c"/>, computed in double.</summary>
    private float[] ValueTable(int c)
    {
        var table = new float[256];
        for (int p = 0; p < 256; p++)
            table[p] = (float)((p * (double)Scale - Mean[c]) / Std[c]);
        return table;
    }

    private static Preprocessing? FindPreset(string name) =>
        Presets.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static float[] ParseTriple(string key, string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new CnnFixationsException($"the model's metadata '{key}' value '{text}' is not a comma-separated list of numbers");
        }
        if (values.Length == 1) return [values[0], values[0], values[0]];
        if (values.Length != 3)
            throw new CnnFixationsException($"the model's metadata '{key}' value '{text}' has {values.Length} numbers; 1 or 3 are needed");
        return values;
    }
}
