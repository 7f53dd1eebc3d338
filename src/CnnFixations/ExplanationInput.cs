using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>
/// What the network sees and where it came from: the input tensor, the original image (if any)
/// and the region of that image the input shows, for mapping fixations back to image pixels.
/// </summary>
public sealed class ExplanationInput
{
    private ExplanationInput(string? imagePath, RgbImage? image, TensorValue tensor, InputRegion region, int width, int height)
    {
        ImagePath = imagePath;
        Image = image;
        Tensor = tensor;
        Region = region;
        Width = width;
        Height = height;
    }

    public string? ImagePath { get; }
    /// <summary>The decoded, upright original image; null for a direct tensor.</summary>
    public RgbImage? Image { get; }
    public TensorValue Tensor { get; }
    public InputRegion Region { get; }
    /// <summary>Width of the original image (of the tensor for a direct tensor).</summary>
    public int Width { get; }
    public int Height { get; }

    /// <summary>The largest network input (height x width) an image is resized to: bigger declared sizes are refused, not allocated.</summary>
    public const long MaxInputPixels = ImageLoader.DefaultMaxPixels;

    /// <summary>The whole image resized to the model's input size (the default geometry), then normalized.</summary>
    public static ExplanationInput FromImage(string path, Preprocessing preprocessing, int inputHeight, int inputWidth, long maxPixels = ImageLoader.DefaultMaxPixels)
    {
        var image = ImageLoader.Load(path, maxPixels);
        return FromImage(path, image, preprocessing, inputHeight, inputWidth);
    }

    public static ExplanationInput FromImage(string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (inputHeight < 1 || inputWidth < 1)
            throw new CnnFixationsException($"the network input size {inputHeight}x{inputWidth} is not fixed or not positive: give the size the model takes (--size HxW)");
        if ((long)inputHeight * inputWidth > MaxInputPixels)
            throw new CnnFixationsException($"the network input size {inputHeight}x{inputWidth} is larger than {MaxInputPixels} pixels; no image classifier takes that");
        var resized = image.Width == inputWidth && image.Height == inputHeight ? image : Resampler.Resize(image, inputWidth, inputHeight);
        var data = preprocessing.ToTensor(resized);
        var tensor = new TensorValue(new[] { 1, 3, inputHeight, inputWidth }, data);
        return new ExplanationInput(path, image, tensor, new InputRegion(0, 0, image.Width, image.Height, false), image.Width, image.Height);
    }

    /// <summary>A float32 [1,C,H,W] tensor from a .npy file, used as the network input as it is.</summary>
    public static ExplanationInput FromNpy(string path)
    {
        if (!File.Exists(path)) throw new CnnFixationsException($"input tensor file '{path}' not found");
        var (shape, data) = NpyFile.ReadFloat32(path);
        if (shape.Length != 4 || shape[0] != 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1)
            throw new CnnFixationsException($"input tensor '{path}' has shape {Shapes.Format(shape)}; a float32 [1,C,H,W] array (C, H, W at least 1) is needed");
        var tensor = new TensorValue(shape, data);
        return new ExplanationInput(null, null, tensor, new InputRegion(0, 0, shape[3], shape[2], false), shape[3], shape[2]);
    }

    /// <summary>The original-image pixel (X, Y) of network-input pixel (y, x).</summary>
    public (int X, int Y) MapToImage(int y, int x) => Region.MapToImage(y, x, Tensor.Shape[2], Tensor.Shape[3]);
}
