namespace CnnFixations.Imaging;

/// <summary>
/// The rectangle of the original image that the network input shows, resized to the input size and,
/// when <see cref="Mirrored"/>, flipped left to right. The whole image is (0, 0, W, H, false).
/// </summary>
public sealed record InputRegion(int X, int Y, int Width, int Height, bool Mirrored)
{
    /// <summary>
    /// The original-image pixel under network-input pixel (y, x) of an inputHeight x inputWidth input:
    /// the pixel containing the input pixel's centre, X = X0 + floor((x + 0.5) * Width / inputWidth)
    /// (x replaced by inputWidth - 1 - x first when mirrored), and likewise for Y. Exact integer arithmetic.
    /// </summary>
    public (int X, int Y) MapToImage(int y, int x, int inputHeight, int inputWidth)
    {
        Check(y, x, inputHeight, inputWidth);
        if (Mirrored) x = inputWidth - 1 - x;
        long ix = (2L * x + 1) * Width / (2L * inputWidth);
        long iy = (2L * y + 1) * Height / (2L * inputHeight);
        return (X + (int)ix, Y + (int)iy);
    }

    private void Check(int y, int x, int inputHeight, int inputWidth)
    {
        if (inputHeight < 1 || inputWidth < 1)
            throw new CnnFixationsException($"the network input size {inputWidth}x{inputHeight} must be at least 1x1");
        if ((uint)y >= (uint)inputHeight || (uint)x >= (uint)inputWidth)
            throw new CnnFixationsException($"input pixel (y={y}, x={x}) is outside the {inputWidth}x{inputHeight} network input");
        if (Width < 1 || Height < 1)
            throw new CnnFixationsException($"the input region {Width}x{Height} must be at least 1x1");
    }

    /// <summary>
    /// Where the centre of network-input pixel (y, x) lies in the original image, in continuous coordinates
    /// (pixel k spans [k, k + 1), so its centre is k + 1/2): X = X0 + (x + 0.5) * Width / inputWidth (x replaced by
    /// inputWidth - 1 - x first when mirrored), and likewise for Y. <see cref="MapToImage"/> is its floor.
    /// </summary>
    public (double X, double Y) CentreInImage(int y, int x, int inputHeight, int inputWidth)
    {
        Check(y, x, inputHeight, inputWidth);
        if (Mirrored) x = inputWidth - 1 - x;
        return (X + (x + 0.5) * Width / inputWidth, Y + (y + 0.5) * Height / inputHeight);
    }
}
