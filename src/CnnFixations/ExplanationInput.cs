using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>
/// What the network sees and where it came from: the input tensor, the original image (if any)
/// and the geometry that maps input pixels back to original-image pixels.
/// </summary>
public sealed class ExplanationInput
{
    private ExplanationInput(string? imagePath, RgbImage? image, TensorValue tensor, InputGeometry geometry, string name)
    {
        ImagePath = imagePath;
        Image = image;
        Tensor = tensor;
        Geometry = geometry;
        Name = name;
    }

    /// <summary>The image file, or null.</summary>
    public string? ImagePath { get; }
    /// <summary>The decoded, upright original image; null for a direct tensor.</summary>
    public RgbImage? Image { get; }
    /// <summary>The network input, [1,C,H,W].</summary>
    public TensorValue Tensor { get; }
    /// <summary>How the input pixels map back to the original image.</summary>
    public InputGeometry Geometry { get; }
    /// <summary>Which view of the image this is ("whole", "centre", "top-left", "top-left mirrored", ...).</summary>
    public string Name { get; }
    /// <summary>Width of the original image (of the tensor for a direct tensor).</summary>
    public int Width => Geometry.ImageWidth;
    /// <summary>Height of the original image (of the tensor for a direct tensor).</summary>
    public int Height => Geometry.ImageHeight;

    /// <summary>The largest network input (height x width) an image is resized to: bigger declared sizes are refused, not allocated.</summary>
    public const long MaxInputPixels = ImageLoader.DefaultMaxPixels;

    /// <summary>The whole image resized to the model's input size (the default geometry), then normalized.</summary>
    public static ExplanationInput FromImage(string path, Preprocessing preprocessing, int inputHeight, int inputWidth, long maxPixels = ImageLoader.DefaultMaxPixels)
    {
        var image = ImageLoader.Load(path, maxPixels);
        return FromImage(path, image, preprocessing, inputHeight, inputWidth);
    }

    /// <summary>The decoded <paramref name="image"/> (from <paramref name="path"/>, if any) resized whole to the model's input size, then normalized.</summary>
    public static ExplanationInput FromImage(string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (inputHeight < 1 || inputWidth < 1)
            throw new CnnFixationsException($"the network input size {inputHeight}x{inputWidth} is not fixed or not positive: give the size the model takes (--size HxW)");
        if ((long)inputHeight * inputWidth > MaxInputPixels)
            throw new CnnFixationsException($"the network input size {inputHeight}x{inputWidth} is larger than {MaxInputPixels} pixels; no image classifier takes that");
        var resized = image.Width == inputWidth && image.Height == inputHeight ? image : Resampler.Resize(image, inputWidth, inputHeight);
        return new ExplanationInput(path, image, ToTensor(resized, preprocessing), InputGeometry.WholeImage(image.Width, image.Height), "whole");
    }

    /// <summary>
    /// The image resized so that its short side is <paramref name="shortSide"/>, then the given crops of the
    /// input size (the spec's five-crop protocol uses the four corners and the centre, each also mirrored).
    /// </summary>
    public static IReadOnlyList<ExplanationInput> Crops(string? path, RgbImage image, Preprocessing preprocessing, int inputHeight, int inputWidth,
        int shortSide, IEnumerable<CropPosition> positions, bool withMirrors)
    {
        double scale = (double)shortSide / Math.Min(image.Width, image.Height);
        int rw = Math.Max(inputWidth, (int)Math.Round(image.Width * scale));
        int rh = Math.Max(inputHeight, (int)Math.Round(image.Height * scale));
        var resized = rw == image.Width && rh == image.Height ? image : Resampler.Resize(image, rw, rh);
        var result = new List<ExplanationInput>();
        foreach (var position in positions)
        {
            var (cx, cy) = position switch
            {
                CropPosition.TopLeft => (0, 0),
                CropPosition.TopRight => (rw - inputWidth, 0),
                CropPosition.BottomLeft => (0, rh - inputHeight),
                CropPosition.BottomRight => (rw - inputWidth, rh - inputHeight),
                _ => ((rw - inputWidth) / 2, (rh - inputHeight) / 2),
            };
            var crop = Resampler.Crop(resized, cx, cy, inputWidth, inputHeight);
            string name = position.ToString().ToLowerInvariant();
            result.Add(new ExplanationInput(path, image, ToTensor(crop, preprocessing),
                new InputGeometry(image.Width, image.Height, rw, rh, new InputRegion(cx, cy, inputWidth, inputHeight, false)), name));
            if (withMirrors)
                result.Add(new ExplanationInput(path, image, ToTensor(Resampler.MirrorHorizontal(crop), preprocessing),
                    new InputGeometry(image.Width, image.Height, rw, rh, new InputRegion(cx, cy, inputWidth, inputHeight, true)), name + " mirrored"));
        }
        return result;
    }

    /// <summary>A float32 [1,C,H,W] tensor from a .npy file, used as the network input as it is.</summary>
    public static ExplanationInput FromNpy(string path)
    {
        if (!File.Exists(path)) throw new CnnFixationsException($"input tensor file '{path}' not found");
        var (shape, data) = NpyFile.ReadFloat32(path);
        if (shape.Length != 4 || shape[0] != 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1)
            throw new CnnFixationsException($"input tensor '{path}' has shape {Shapes.Format(shape)}; a float32 [1,C,H,W] array (C, H, W at least 1) is needed");
        return new ExplanationInput(null, null, new TensorValue(shape, data), InputGeometry.WholeImage(shape[3], shape[2]), "tensor");
    }

    /// <summary>The original-image pixel (X, Y) of network-input pixel (y, x).</summary>
    public (int X, int Y) MapToImage(int y, int x) => Geometry.MapToImage(y, x, Tensor.Shape[2], Tensor.Shape[3]);

    /// <summary>Where the centre of network-input pixel (y, x) lies in the original image, in continuous coordinates (pixel k spans [k, k + 1)).</summary>
    public (double X, double Y) CentreInImage(int y, int x) => Geometry.CentreInImage(y, x, Tensor.Shape[2], Tensor.Shape[3]);

    private static TensorValue ToTensor(RgbImage image, Preprocessing preprocessing) =>
        new(new[] { 1, preprocessing.Channels, image.Height, image.Width }, preprocessing.ToTensor(image));
}

/// <summary>Where a crop is taken from the resized image.</summary>
public enum CropPosition
{
    /// <summary>The top-left corner.</summary>
    TopLeft,
    /// <summary>The top-right corner.</summary>
    TopRight,
    /// <summary>The bottom-left corner.</summary>
    BottomLeft,
    /// <summary>The bottom-right corner.</summary>
    BottomRight,
    /// <summary>The centre.</summary>
    Centre,
}
