namespace CnnFixations.Imaging;

/// <summary>
/// How the network input was cut from the original image: the image was resized to
/// ResizedWidth x ResizedHeight, then <see cref="Region"/> of that resized image (possibly mirrored)
/// was resized to the network input. The whole image resized to the input is
/// (W, H, W, H, (0, 0, W, H)).
/// </summary>
public sealed record InputGeometry(int ImageWidth, int ImageHeight, int ResizedWidth, int ResizedHeight, InputRegion Region)
{
    /// <summary>The whole image resized to the network input.</summary>
    public static InputGeometry WholeImage(int width, int height) =>
        new(width, height, width, height, new InputRegion(0, 0, width, height, false));

    /// <summary>
    /// The original-image pixel of network-input pixel (y, x): the region maps it into the resized image,
    /// then the resized pixel's centre maps back, X = floor((Xr + 0.5) * ImageWidth / ResizedWidth).
    /// </summary>
    public (int X, int Y) MapToImage(int y, int x, int inputHeight, int inputWidth)
    {
        var (xr, yr) = Region.MapToImage(y, x, inputHeight, inputWidth);
        if (ResizedWidth == ImageWidth && ResizedHeight == ImageHeight) return (xr, yr);
        long ix = (2L * xr + 1) * ImageWidth / (2L * ResizedWidth);
        long iy = (2L * yr + 1) * ImageHeight / (2L * ResizedHeight);
        return ((int)Math.Min(ix, ImageWidth - 1), (int)Math.Min(iy, ImageHeight - 1));
    }

    /// <summary>
    /// Where the centre of network-input pixel (y, x) lies in the original image, in continuous coordinates (pixel k
    /// spans [k, k + 1)): the region's continuous centre scaled by ImageWidth / ResizedWidth (ImageHeight /
    /// ResizedHeight). The weighted heat map shares each input pixel's weight among the image pixels around it.
    /// </summary>
    public (double X, double Y) CentreInImage(int y, int x, int inputHeight, int inputWidth)
    {
        var (xr, yr) = Region.CentreInImage(y, x, inputHeight, inputWidth);
        return (xr * ImageWidth / ResizedWidth, yr * ImageHeight / ResizedHeight);
    }

    /// <summary>
    /// Original-image pixels per network-input pixel, the larger of the two axes (the region's size over the
    /// input's, times the image's size over the resized image's).
    /// </summary>
    public double ImagePixelsPerInputPixel(int inputHeight, int inputWidth) => Math.Max(
        (double)Region.Width / inputWidth * ImageWidth / ResizedWidth,
        (double)Region.Height / inputHeight * ImageHeight / ResizedHeight);
}
