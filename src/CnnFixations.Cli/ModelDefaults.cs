using System.Globalization;
using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Cli;

/// <summary>
/// What a command uses when the user leaves the model or its preprocessing out: the bundled model next to
/// the program (or under the current folder), the preprocessing from the model's metadata, else torchvision.
/// </summary>
internal static class ModelDefaults
{
    /// <summary>The given path, or the bundled model found under models/ beside the program or the current folder.</summary>
    public static string ResolveModelPath(string? model)
    {
        if (model != null) return model;
        foreach (var dir in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            string path = Path.Combine(dir, "models", ExplainCommand.BundledModelFile);
            if (File.Exists(path)) return path;
        }
        throw new CnnFixationsException($"no --model given, and the bundled model models/{ExplainCommand.BundledModelFile} is not beside the program or in the current folder");
    }

    /// <summary>The named preset when given, else the model's metadata, else torchvision.</summary>
    public static Preprocessing Preprocessing(OnnxModel model, string? preset = null) =>
        preset != null ? Imaging.Preprocessing.FromName(preset) : Imaging.Preprocessing.FromMetadata(model.Metadata) ?? Imaging.Preprocessing.Torchvision;

    /// <summary>The model's metadata key label_offset (output index = dataset class + offset), 0 when absent.</summary>
    public static int LabelOffset(OnnxModel model)
    {
        if (!model.Metadata.TryGetValue("label_offset", out var text)) return 0;
        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int offset) || offset < 0)
            throw new CnnFixationsException($"the model's metadata label_offset '{text}' is not a non-negative integer");
        return offset;
    }

    /// <summary>The model's fixed input height and width; an error for models whose input size is not fixed.</summary>
    public static (int H, int W) FixedInputSize(OnnxModel model)
    {
        var s = model.InputShape;
        if (s.Length != 4 || s[2] <= 0 || s[3] <= 0)
            throw new CnnFixationsException($"the model's input size is not fixed ({Shapes.Format(s)}): evaluation needs a model with a fixed [1,3,H,W] input");
        if (s[1] > 0 && s[1] != 3)
            throw new CnnFixationsException($"the model's input has {s[1]} channels; images need a 3-channel (RGB) model");
        return (s[2], s[3]);
    }
}
