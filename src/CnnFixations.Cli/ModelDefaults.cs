using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Cli;

/// <summary>
/// What a command uses when the user leaves the model or its preprocessing out: the library's conventions
/// (<see cref="ModelConventions"/>), with messages that name the command line's options.
/// </summary>
internal static class ModelDefaults
{
    /// <summary>The given path, or the bundled model found under models/ beside the program or the current folder.</summary>
    public static string ResolveModelPath(string? model) => ModelConventions.ResolveModelPath(model, "no --model given");

    /// <summary>The named preset when given, else the model's metadata, else torchvision.</summary>
    public static Preprocessing Preprocessing(OnnxModel model, string? preset = null) => ModelConventions.ResolvePreprocessing(model, preset);

    /// <summary>The model's metadata key label_offset (output index = dataset class + offset), 0 when absent.</summary>
    public static int LabelOffset(OnnxModel model) => ModelConventions.LabelOffset(model);

    /// <summary>The model's fixed input height and width; an error for models whose input size is not fixed.</summary>
    public static (int H, int W) FixedInputSize(OnnxModel model)
    {
        var s = model.InputShape;
        if (s.Length != 4 || s[2] <= 0 || s[3] <= 0)
            throw new CnnFixationsException($"the model's input size is not fixed ({Shapes.Format(s)}): evaluation needs a model with a fixed [1,3,H,W] input");
        if (s[1] > 0 && s[1] != 3)
            throw new CnnFixationsException($"the model's input has {s[1]} channels; images need a 3-channel (RGB) model");
        return ModelConventions.ResolveInputSize(model);
    }
}
