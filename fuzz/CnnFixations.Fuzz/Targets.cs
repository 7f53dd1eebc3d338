using CnnFixations;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Fuzz;

/// <summary>
/// The fuzzed entry points. Each one feeds arbitrary bytes to a reader of untrusted input; a
/// <see cref="CnnFixationsException"/> is the expected way to refuse bad input, and any other
/// exception escaping (or a hang, or a crash of the process) is a bug.
/// </summary>
internal static class Targets
{
    /// <summary>The pixel limit for the image target: small, so that each run stays fast.</summary>
    public const long ImagePixelLimit = 1 << 22;

    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["onnx"] = Onnx,
        ["image"] = Image,
    };

    /// <summary>
    /// The ONNX reader: parsing, then everything the explainer does with the graph before ONNX
    /// Runtime sees it: reading and folding every constant, finding the classifier output and
    /// planning the walk.
    /// </summary>
    public static void Onnx(byte[] bytes)
    {
        OnnxModel model;
        try
        {
            model = OnnxModel.FromBytes(bytes);
        }
        catch (CnnFixationsException)
        {
            return;
        }
        foreach (var node in model.Nodes)
        {
            foreach (var tensor in node.Inputs.Concat(node.Outputs))
            {
                if (tensor.Length == 0 || !model.IsConstant(tensor)) continue;
                try { model.TryGetConstant(tensor); }
                catch (CnnFixationsException) { }
            }
        }
        try
        {
            string logits = ClassifierHead.FindLogits(model);
            UnravelPlan.Create(model, logits, RuleSet.Default);
        }
        catch (CnnFixationsException) { }
    }

    /// <summary>The image decoder path: header checks, decoding, conversion to RGB and EXIF orientation.</summary>
    public static void Image(byte[] bytes)
    {
        try
        {
            var image = ImageLoader.Load(bytes, "fuzz-input", ImagePixelLimit);
            if (image.Pixels.Length != 3L * image.Width * image.Height)
                throw new InvalidOperationException("decoded image has an inconsistent size");
        }
        catch (CnnFixationsException) { }
    }
}
