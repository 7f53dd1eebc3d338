using System.Globalization;
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

    /// <summary>The model's metadata key label_offset (output index = dataset class + offset), 0 when absent.</summary>
    public static int LabelOffset(OnnxModel model) => ModelConventions.LabelOffset(model);

    /// <summary>The preprocessing explain would choose for images (<see cref="PreprocessingChoice.For"/>): the named preset, raw values for uint8 inputs, the metadata, raw values for in-graph normalization, else torchvision.</summary>
    public static Preprocessing Preprocessing(OnnxModel model, string? preset = null) =>
        PreprocessingChoice.For(InputAdapter.Adapt(model), preset).Preprocessing;

    /// <summary>The model's metadata input_size ("HxW", "H,W" or "N"), or null when absent (<see cref="ModelConventions.MetadataInputSize"/>).</summary>
    public static (int H, int W)? MetadataInputSize(OnnxModel model) => ModelConventions.MetadataInputSize(model);

    /// <summary>The model's fixed input height and width; an error for models whose input size is not fixed.</summary>
    public static (int H, int W) FixedInputSize(OnnxModel model)
    {
        var s = model.InputShape;
        if (s.Length != 4 || s[2] <= 0 || s[3] <= 0)
            throw new CnnFixationsException($"the model's input size is not fixed ({Shapes.Format(s)}): evaluation needs a model with a fixed [1,C,H,W] input");
        return (s[2], s[3]);
    }
}
