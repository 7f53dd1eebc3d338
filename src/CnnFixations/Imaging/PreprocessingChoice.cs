using CnnFixations.Onnx;

namespace CnnFixations.Imaging;

/// <summary>The preprocessing chosen for a model and why (printed by explain and inspect).</summary>
public sealed record PreprocessingChoice(Preprocessing Preprocessing, string Reason)
{
    /// <summary>
    /// In order: the named preset; raw 0..255 values for a uint8 input; the model's metadata (mean/std,
    /// preprocessing); raw 0..255 values when the graph normalizes its input itself (ImageScaler, or
    /// Sub/Div/Mul/Add by a constant at the input); else torchvision. Then fitted to the input's channels
    /// (<see cref="Preprocessing.ForChannels"/>).
    /// </summary>
    public static PreprocessingChoice For(AdaptedModel model, string? preset = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var original = model.Original.InputShape;
        if (model.Layout == InputLayout.Nchw && original.Length == 4 && original[1] > 4 && original[3] is 1 or 3 or 4)
            throw new CnnFixationsException(
                $"the model's input {Shapes.Format(original)} looks channel-last ({original[3]} channels last) but nothing says so ({model.LayoutReason}); give --layout nhwc");
        var (p, why) = Choose(model, preset);
        p = p.ForChannels(model.Channels);
        string channels = p.Channels == 1 ? "1 channel: luminance L = (299 R + 587 G + 114 B)/1000" : p.Bgr ? "3 channels: BGR" : "3 channels: RGB";
        return new PreprocessingChoice(p, $"{why}; {channels}");
    }

    private static (Preprocessing, string) Choose(AdaptedModel model, string? preset)
    {
        if (preset != null) return (Preprocessing.FromName(preset), $"--preset {preset}");
        if (model.TakesRawBytes) return (Preprocessing.Raw, $"raw pixel values 0..255: the model's input is {model.InputElementType}");
        if (Preprocessing.FromMetadata(model.Model.Metadata) is { } fromMetadata)
            return (fromMetadata, "from the model's metadata");
        if (InputAdapter.InGraphNormalization(model.Model) is { } node)
            return (Preprocessing.Raw, $"raw pixel values 0..255: the graph normalizes its input itself ({node})");
        return (Preprocessing.Torchvision, "the default (ImageNet mean/std on 0..1): no metadata and no normalization in the graph; override with --preset or --mean/--std/--scale");
    }

    /// <summary>A one-line description: name, mean, std, scale.</summary>
    public string Describe()
    {
        var p = Preprocessing;
        static string F(float[] v) => string.Join(",", v.Select(x => x.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)));
        return $"{p.Name} (mean {F(p.Mean)}, std {F(p.Std)}, scale {p.Scale.ToString("0.########", System.Globalization.CultureInfo.InvariantCulture)}): {Reason}";
    }
}
