using System.Globalization;
using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>
/// What the library and the command line use when the caller leaves something out: the bundled model
/// (models/ beside the program, or under the current folder), the preprocessing (a named preset when
/// given, else the model's metadata, else torchvision), the label offset and the input size.
/// </summary>
public static class ModelConventions
{
    /// <summary>The bundled model's file name in models/.</summary>
    public const string BundledModelFile = "mobilenet_v2_1.0_224_quant.qdq.onnx";

    /// <summary>The bundled model's path, or null when models/ is neither beside the program nor in the current folder.</summary>
    public static string? FindBundledModel()
    {
        foreach (var dir in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            string path = Path.Combine(dir, "models", BundledModelFile);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>The given path, or the bundled model's; an error naming <paramref name="missingHint"/> when neither is there.</summary>
    public static string ResolveModelPath(string? model, string missingHint = "no model given") =>
        model ?? FindBundledModel()
        ?? throw new CnnFixationsException($"{missingHint}, and the bundled model models/{BundledModelFile} is not beside the program or in the current folder");

    /// <summary>The named preset (torchvision, caffe, tf) when given, else the model's metadata (mean, std, color_order), else torchvision.</summary>
    public static Preprocessing ResolvePreprocessing(OnnxModel model, string? preset = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return preset != null ? Preprocessing.FromName(preset) : Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
    }

    /// <summary>
    /// The preprocessing <c>explain</c> and <see cref="FixationExplainer"/> apply to images (<see cref="PreprocessingChoice.For"/>:
    /// the named preset, raw values for uint8 inputs, the metadata, raw values for in-graph normalization, else
    /// torchvision), then changed by <paramref name="adjustments"/> when given.
    /// </summary>
    public static PreprocessingChoice ChoosePreprocessing(AdaptedModel model, string? preset = null, PreprocessingAdjustments? adjustments = null)
    {
        var choice = PreprocessingChoice.For(model, preset);
        if (adjustments is null || !adjustments.Any) return choice;
        var p = choice.Preprocessing;
        p = (p with
        {
            Name = p.Name + " (adjusted)",
            Mean = adjustments.Mean ?? p.Mean,
            Std = adjustments.Std ?? p.Std,
            Scale = adjustments.Scale ?? p.Scale,
            Bgr = adjustments.Bgr || p.Bgr,
        }).ForChannels(p.Channels);
        return new PreprocessingChoice(p, choice.Reason + "; adjusted by --mean/--std/--scale/--bgr");
    }

    /// <summary>The input size known from the model: its fixed input size, else its metadata input_size (checked against the fixed dimensions), else null.</summary>
    public static (int Height, int Width)? KnownInputSize(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = model.InputShape;
        int declaredH = shape.Length == 4 ? shape[2] : -1, declaredW = shape.Length == 4 ? shape[3] : -1;
        if (declaredH > 0 && declaredW > 0) return (declaredH, declaredW);
        if (MetadataInputSize(model) is not { } fromMetadata) return null;
        if ((declaredH > 0 && declaredH != fromMetadata.Height) || (declaredW > 0 && declaredW != fromMetadata.Width))
            throw new CnnFixationsException($"the model's metadata input_size {fromMetadata.Height}x{fromMetadata.Width} conflicts with its input {Shapes.Format(shape)}; give the size with --size HxW");
        return fromMetadata;
    }

    /// <summary>The model's metadata input_size ("HxW", "H,W", "N", or with a channel count first or last), or null when absent.</summary>
    public static (int Height, int Width)? MetadataInputSize(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Metadata.TryGetValue("input_size", out var text)) return null;
        var parts = text.Trim().ToLowerInvariant().Split('x', ',', ' ').Where(p => p.Length > 0).ToArray();
        var values = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= 16384 ? v : -1).ToArray();
        // "3,224,224" or "224,224,3" (with channels) also occur; the two spatial values are the ones other than a leading/trailing channel count.
        if (values.Length == 3 && values[0] is 1 or 3 or 4) values = values[1..];
        else if (values.Length == 3 && values[2] is 1 or 3 or 4) values = values[..2];
        if (values.Length is not (1 or 2) || values.Any(v => v < 0))
            throw new CnnFixationsException($"the model's metadata input_size '{text}' is not HxW; give the size with --size HxW");
        return (values[0], values[^1]);
    }

    /// <summary>The model's metadata key label_offset (output index = dataset class + offset), 0 when absent.</summary>
    public static int LabelOffset(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Metadata.TryGetValue("label_offset", out var text)) return 0;
        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int offset) || offset < 0)
            throw new CnnFixationsException($"the model's metadata label_offset '{text}' is not a non-negative integer");
        return offset;
    }

    /// <summary>
    /// The height and width images are resized to: the model's fixed input size, or <paramref name="requested"/>
    /// for a model whose size is not fixed. An error for a model that does not take 3-channel images, a
    /// requested size that conflicts with the fixed one, or a size known from neither (the model's metadata
    /// input_size counts as known: <see cref="KnownInputSize"/>).
    /// </summary>
    public static (int Height, int Width) ResolveInputSize(OnnxModel model, (int Height, int Width)? requested = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = model.InputShape;
        if (shape.Length != 4 && shape.Length != 0)
            throw new CnnFixationsException($"the model's input has shape {Shapes.Format(shape)}; an image classifier takes [1,3,H,W]");
        if (shape.Length == 4 && shape[1] > 0 && shape[1] != 3)
            throw new CnnFixationsException($"the model's input has {shape[1]} channel{(shape[1] == 1 ? "" : "s")}; images are explained for 3-channel (RGB) models only");
        int declaredH = shape.Length == 4 ? shape[2] : -1, declaredW = shape.Length == 4 ? shape[3] : -1;
        if (requested is { } size)
        {
            if (size.Height < 1 || size.Width < 1 || (long)size.Height * size.Width > ExplanationInput.MaxInputPixels)
                throw new CnnFixationsException($"the input size {size.Height}x{size.Width} is not positive or larger than {ExplanationInput.MaxInputPixels} pixels");
            if ((declaredH > 0 && declaredH != size.Height) || (declaredW > 0 && declaredW != size.Width))
                throw new CnnFixationsException($"the input size {size.Height}x{size.Width} conflicts with the model's fixed input size {declaredH}x{declaredW}");
            return size;
        }
        if (KnownInputSize(model) is { } known) return known;
        throw new CnnFixationsException($"the model's input size is not fixed ({Shapes.Format(shape)}) and its metadata has no input_size; give the size to resize images to");
    }
}

/// <summary>Changes to the chosen preprocessing (the command line's --mean, --std, --scale and --bgr).</summary>
public sealed record PreprocessingAdjustments
{
    /// <summary>Per-channel means replacing the chosen ones (in the scaled units), or null.</summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-channel standard deviations replacing the chosen ones, or null.</summary>
    public float[]? Std { get; init; }

    /// <summary>The factor pixel values 0..255 are multiplied by first, or null.</summary>
    public float? Scale { get; init; }

    /// <summary>Feed the channels in BGR order.</summary>
    public bool Bgr { get; init; }

    /// <summary>Whether anything is changed.</summary>
    public bool Any => Mean != null || Std != null || Scale != null || Bgr;
}
