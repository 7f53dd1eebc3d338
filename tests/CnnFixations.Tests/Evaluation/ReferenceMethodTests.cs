using CnnFixations.Evaluation;
using CnnFixations.Imaging;

namespace CnnFixations.Tests.Evaluation;

public class ReferenceMethodTests
{
    private static ExplanationInput Input(int w, int h) =>
        ExplanationInput.FromImage(null, new RgbImage(w, h, new byte[3 * w * h]), Preprocessing.Torchvision, h, w);

    [Fact]
    public void CenterIsAnIsotropicGaussianWithSigmaAQuarterOfTheShortSide()
    {
        // 41x21: centre (20, 10), sigma = 21 / 4 = 5.25.
        var map = new CenterGaussianMethod().Compute(null!, Input(41, 21), 0);
        Assert.Equal((41, 21), (map.Width, map.Height));
        Assert.Equal(1f, map.Heat[10 * 41 + 20], 6);
        double sigma = 21 / 4.0;
        Assert.Equal(Math.Exp(-(3 * 3 + 4 * 4) / (2 * sigma * sigma)), map.Heat[(10 + 4) * 41 + 20 + 3], 6);
        Assert.Equal(map.Heat[(10 + 4) * 41 + 20 + 3], map.Heat[(10 - 4) * 41 + 20 - 3], 6); // symmetric
        Assert.Equal((20, 10), MapStatistics.PointOf(map.Heat, map.Width, map.Height));
        Assert.Null(map.Points);
    }

    [Fact]
    public void WholeImageIsFlatWithTheFullBoxAndPointsAtTheCentre()
    {
        var map = new WholeImageMethod().Compute(null!, Input(9, 6), 3);
        Assert.All(map.Heat, v => Assert.Equal(1f, v));
        Assert.Equal(new[] { 0, 0, 8, 5 }, map.Box);
        Assert.Equal((4, 2), MapStatistics.PointOf(map.Heat, 9, 6));
        Assert.Equal(new[] { 0, 0, 8, 5 }, CnnFixations.Maps.BoxFinder.FromThreshold(map.Heat, 9, 6, 0.5));
        // a tile of a 3x3 grid on a 9x6 canvas holds 6 of the 54 pixels: 1/9 of the mass
        Assert.Equal(1.0 / 9, MapStatistics.MassShare(map.Heat, 9, GridPointingGame.Tile(9, 6, 3, 1, 1)), 12);
    }

    [Fact]
    public void BothAreRegistered()
    {
        var methods = ExplanationMethods.TryCreate("center,whole-image", MapOptions.Default, out var unknown);
        Assert.Null(unknown);
        Assert.Equal(new[] { "center", "whole-image" }, methods!.Select(m => m.Name));
    }
}
