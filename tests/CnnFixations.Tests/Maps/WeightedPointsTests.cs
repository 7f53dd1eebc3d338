using CnnFixations.Imaging;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Maps;

/// <summary>
/// Where the weighted rules put each input pixel's weight on the image (<see cref="FixationMap.WeightedPoints"/>):
/// at the pixel's centre, shared bilinearly among the image pixels around it. Expected values are hand computed.
/// </summary>
public class WeightedPointsTests
{
    private static ExplanationInput Input(int imageWidth, int imageHeight, int inputHeight, int inputWidth) =>
        ExplanationInput.FromImage(null, new RgbImage(imageWidth, imageHeight, new byte[3 * imageWidth * imageHeight]), Preprocessing.Torchvision, inputHeight, inputWidth);

    /// <summary>The weight each image pixel receives (row-major), when input pixel p carries <paramref name="weight"/>(p) in channel 0.</summary>
    private static double[] PerImagePixel(ExplanationInput input, Func<int, float> weight)
    {
        int h = input.Tensor.Shape[2], w = input.Tensor.Shape[3];
        var data = new float[3 * h * w];
        for (int p = 0; p < h * w; p++) data[p] = weight(p);
        var result = new WeightedResult(data, new[] { 1, 3, h, w }, Array.Empty<string>(), 1);
        var (points, weights) = FixationMap.WeightedPoints(result, input);
        var image = new double[input.Width * input.Height];
        for (int i = 0; i < points.Count; i++) image[points[i].Y * input.Width + points[i].X] += weights[i];
        return image;
    }

    [Fact]
    public void Doubling_shares_each_input_pixel_equally_among_its_2x2_image_pixels()
    {
        // input pixel (0, 0) of a 2x2 input has its centre at image coordinate (1, 1) of a 4x4 image: between the
        // centres 0.5 and 1.5 of image pixels 0 and 1, so a quarter goes to each of (0..1, 0..1); likewise the others.
        var input = Input(4, 4, 2, 2);
        var image = PerImagePixel(input, p => p + 1);
        var expected = new double[]
        {
            0.25, 0.25, 0.5, 0.5,
            0.25, 0.25, 0.5, 0.5,
            0.75, 0.75, 1.0, 1.0,
            0.75, 0.75, 1.0, 1.0,
        };
        Assert.Equal(expected, image.Select(v => Math.Round(v, 6)));
    }

    [Fact]
    public void Halving_clamps_the_outer_centres_to_the_border_pixels()
    {
        // 4 input columns onto 2 image columns: centres at 0.25, 0.75, 1.25, 1.75. The first lies before image pixel
        // 0's centre (0.5): all to pixel 0; 0.75 splits 0.75 / 0.25; 1.25 splits 0.25 / 0.75; 1.75 lies after pixel 1's
        // centre: all to pixel 1. Each image pixel gets two input columns' worth.
        var input = Input(2, 1, 1, 4);
        var image = PerImagePixel(input, p => 1);
        Assert.Equal(new[] { 2.0, 2.0 }, image.Select(v => Math.Round(v, 6)));
    }

    [Fact]
    public void A_photo_slightly_larger_than_the_input_gets_weight_on_every_row_and_column()
    {
        // 224 input pixels onto 227 image pixels (the ILSVRC evaluation photos): the pixel containing each centre would
        // leave 3 rows and 3 columns empty (dark lines after a fine blur). Shared bilinearly, an even weight reaches
        // every image pixel. Along one axis a pixel between two centres gets 2 - 227/224 of one input pixel's weight
        // (the two shares 1 - d1 and 1 - d2 with d1 + d2 = 227/224), one on a centre 1; in two dimensions the product,
        // so between (2 - 227/224)^2 and 1, and the total is kept.
        var input = Input(227, 227, 224, 224);
        var image = PerImagePixel(input, p => 1);
        Assert.Equal(224.0 * 224, image.Sum(), 6);
        double low = image.Min(), high = image.Max();
        Assert.True(low >= Math.Pow(2 - 227.0 / 224, 2) - 1e-9, $"lowest pixel {low}");
        Assert.True(high <= 1 + 1e-9, $"highest pixel {high}");
    }

    [Fact]
    public void The_centre_of_an_input_pixel_follows_a_mirrored_crop()
    {
        // A 4x2 crop of a 6x2 image (resized 1:1), mirrored: input column 0 shows image column 3 of the region (x = 2..5).
        var geometry = new InputGeometry(6, 2, 6, 2, new InputRegion(2, 0, 4, 2, true));
        Assert.Equal((5.5, 0.5), geometry.CentreInImage(0, 0, 2, 4));
        Assert.Equal((2.5, 1.5), geometry.CentreInImage(1, 3, 2, 4));
        Assert.Equal(geometry.MapToImage(1, 3, 2, 4), ((int)Math.Floor(2.5), (int)Math.Floor(1.5)));
    }
}
