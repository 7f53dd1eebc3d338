using System.Globalization;

namespace CnnFixations.Imaging;

/// <summary>
/// How pixel values become network inputs: for a pixel value p (0..255) of channel c, in the model's
/// channel order (RGB, or BGR when <see cref="Bgr"/>), x = (p * Scale - Mean[c]) / Std[c].
/// </summary>
public sealed record Preprocessing(string Name, float[] Mean, float[] Std, float Scale, bool Bgr)
{
    /// <summary>
    /// The model's input channels: 3 (RGB, or BGR), or 1: the image's luminance as Pillow's "L" mode computes it,
    /// L = R*299/1000 + G*587/1000 + B*114/1000 (ITU-R 601-2), rounded to the nearest integer, then normalized
    /// with Mean[0] and Std[0].
    /// </summary>
    public int Channels { get; init; } = 3;

    /// <summary>Raw pixel values 0..255, for models that normalize inside the graph or take uint8 input.</summary>
    public static Preprocessing Raw { get; } =
        new("raw", [0f, 0f, 0f], [1f, 1f, 1f], 1f, false);

    /// <summary>PyTorch / torchvision ImageNet models: RGB scaled to 0..1, ImageNet mean and std.</summary>
    public static Preprocessing Torchvision { get; } =
        new("torchvision", [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 1f / 255f, false);

    /// <summary>Caffe / Keras "caffe" mode: BGR, 0..255 minus the ImageNet mean (given in B, G, R order).</summary>
    public static Preprocessing Caffe { get; } =
        new("caffe", [103.939f, 116.779f, 123.68f], [1f, 1f, 1f], 1f, true);

    /// <summary>TensorFlow / Keras "tf" mode: RGB mapped to -1..1 (x = p / 127.5 - 1).</summary>
    public static Preprocessing Tf { get; } =
        new("tf", [1f, 1f, 1f], [1f, 1f, 1f], 1f / 127.5f, false);

    private static readonly Preprocessing[] Presets = [Torchvision, Caffe, Tf, Raw];

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
    /// This preprocessing for a model with <paramref name="channels"/> input channels (-1: not declared, taken as 3).
    /// One channel gets the luminance, normalized with the mean of the three means and of the three stds when they
    /// differ (torchvision: 0.449 and 0.226). Four channels (RGBA) and other counts are refused: images carry no
    /// meaningful fourth channel here (give the tensor with --input-tensor).
    /// </summary>
    public Preprocessing ForChannels(int channels)
    {
        if (channels is -1 or 3) return this with { Channels = 3 };
        if (channels == 1)
        {
            if (Bgr) throw new CnnFixationsException($"preprocessing '{Name}' is BGR; a one-channel model takes luminance, which has no colour order");
            return this with { Channels = 1, Mean = [Mean.Average()], Std = [Std.Average()] };
        }
        throw new CnnFixationsException(channels == 4
            ? "the model's input has 4 channels (RGBA?); images are explained for 1-channel (luminance) and 3-channel (RGB/BGR) models only: give a [1,4,H,W] tensor with --input-tensor"
            : $"the model's input has {channels} channels; images are explained for 1-channel (luminance) and 3-channel (RGB/BGR) models only: give the tensor with --input-tensor");
    }

    /// <summary>
    /// The network input for <paramref name="resized"/> (already at the model's input size): CHW float32,
    /// 3*H*W values, channels in the model's order.
    /// </summary>
    public float[] ToTensor(RgbImage resized)
    {
        ArgumentNullException.ThrowIfNull(resized);
        int plane = resized.Width * resized.Height;
        var pixels = resized.Pixels;
        if (Channels == 1)
        {
            if (Mean.Length < 1 || Std.Length < 1) throw new CnnFixationsException($"preprocessing '{Name}' has no mean or std value");
            var gray = ValueTable(0);
            var result = new float[plane];
            for (int i = 0; i < plane; i++)
                result[i] = gray[Luminance(pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2])];
            return result;
        }
        if (Mean.Length != 3 || Std.Length != 3)
            throw new CnnFixationsException($"preprocessing '{Name}' needs 3 mean and 3 std values, has {Mean.Length} and {Std.Length}");
        var tensor = new float[3 * plane];
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

    /// <summary>Pillow's "L" conversion: R*299/1000 + G*587/1000 + B*114/1000, rounded half up (0..255).</summary>
    public static int Luminance(byte r, byte g, byte b) => (r * 299 + g * 587 + b * 114 + 500) / 1000;

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
