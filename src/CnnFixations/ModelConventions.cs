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
    /// requested size that conflicts with the fixed one, or a size known from neither.
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
        if (declaredH > 0 && declaredW > 0) return (declaredH, declaredW);
        throw new CnnFixationsException($"the model's input size is not fixed ({Shapes.Format(shape)}); give the size to resize images to");
    }
}
