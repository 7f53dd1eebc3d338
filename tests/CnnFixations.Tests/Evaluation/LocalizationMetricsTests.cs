using CnnFixations.Evaluation;

namespace CnnFixations.Tests.Evaluation;

public class LocalizationMetricsTests
{
    [Fact]
    public void IouCountsInclusivePixels()
    {
        // [0,0,9,9] and [5,5,14,14] are 10x10 = 100 pixels each and share 5x5 = 25: 25 / (100 + 100 - 25) = 1/7.
        Assert.Equal(1.0 / 7, LocalizationMetrics.Iou(0, 0, 9, 9, 5, 5, 14, 14), 12);
        // One shared column of 5 pixels: [0..4]x[0..4] and [4..8]x[0..4]: 5 / (25 + 25 - 5) = 1/9.
        Assert.Equal(1.0 / 9, LocalizationMetrics.Iou(0, 0, 4, 4, 4, 0, 8, 4), 12);
        // Side by side without a shared pixel.
        Assert.Equal(0, LocalizationMetrics.Iou(0, 0, 4, 4, 5, 0, 9, 4));
        // A single pixel is a 1x1 box, not an empty one.
        Assert.Equal(1, LocalizationMetrics.Iou(3, 3, 3, 3, 3, 3, 3, 3));
        // Fractional: [0,0,1.5,0] covers 2.5 x 1; [1,0,1,0] covers 1 x 1, all inside: 1 / 2.5.
        Assert.Equal(0.4, LocalizationMetrics.Iou(0, 0, 1.5, 0, 1, 0, 1, 0), 12);
    }

    [Fact]
    public void BestIouLooksOnlyAtTheClassAndTreatsNoBoxAsZero()
    {
        var boxes = new[] { new GroundTruthBox(7, 0, 0, 9, 9), new GroundTruthBox(3, 5, 5, 14, 14) };
        Assert.Equal(1.0 / 7, LocalizationMetrics.BestIou(new[] { 5, 5, 14, 14 }, boxes, 7), 12);
        Assert.Equal(1.0, LocalizationMetrics.BestIou(new[] { 5, 5, 14, 14 }, boxes, 3), 12);
        Assert.Equal(0, LocalizationMetrics.BestIou(new[] { 5, 5, 14, 14 }, boxes, 4));
        Assert.Equal(0, LocalizationMetrics.BestIou(null, boxes, 7));
    }

    [Fact]
    public void PointingGameGrowsTheBoxesByTheTolerance()
    {
        var boxes = new[] { new GroundTruthBox(1, 20, 20, 40, 40) };
        Assert.True(LocalizationMetrics.PointingHit(30, 30, boxes, 1));
        Assert.True(LocalizationMetrics.PointingHit(5, 30, boxes, 1));    // 20 - 15
        Assert.False(LocalizationMetrics.PointingHit(4, 30, boxes, 1));
        Assert.True(LocalizationMetrics.PointingHit(55, 55, boxes, 1));   // 40 + 15 on both axes
        Assert.False(LocalizationMetrics.PointingHit(55, 56, boxes, 1));
        Assert.False(LocalizationMetrics.PointingHit(30, 30, boxes, 2));  // another class
        Assert.False(LocalizationMetrics.PointingHit(19, 30, boxes, 1, tolerance: 0));
    }

    [Fact]
    public void ArgMaxTakesTheFirstMaximumInRowMajorOrder()
    {
        // 3 wide, 2 high: the maximum 0.9 at index 2 (x 2, y 0) and index 4 (x 1, y 1).
        Assert.Equal((2, 0), LocalizationMetrics.ArgMax(new float[] { 0.1f, 0.2f, 0.9f, 0, 0.9f, 0.3f }, 3));
    }

    [Fact]
    public void TrapezoidAucOverEqualSteps()
    {
        Assert.Equal(0.5, LocalizationMetrics.TrapezoidAuc(new[] { 0.0, 1.0 }), 12);
        Assert.Equal(1.0, LocalizationMetrics.TrapezoidAuc(new[] { 1.0, 1.0, 1.0 }), 12);
        Assert.Equal(0.5, LocalizationMetrics.TrapezoidAuc(new[] { 0.0, 1.0, 0.0 }), 12);
        // Four intervals of 1/4; only the first has area (1 + 0) / 2 * 1/4.
        Assert.Equal(0.125, LocalizationMetrics.TrapezoidAuc(new[] { 1.0, 0, 0, 0, 0 }), 12);
        // The line y = x sampled at 21 points: exactly 1/2.
        Assert.Equal(0.5, LocalizationMetrics.TrapezoidAuc(Enumerable.Range(0, 21).Select(k => k / 20.0).ToArray()), 12);
        Assert.Throws<ArgumentException>(() => LocalizationMetrics.TrapezoidAuc(new[] { 1.0 }));
    }

    [Fact]
    public void SaliencyOrderIsDescendingWithTiesByIndex()
    {
        Assert.Equal(new[] { 1, 0, 2, 4, 3 }, LocalizationMetrics.SaliencyOrder(new float[] { 0.5f, 1, 0.5f, 0, 0.2f }));
    }

    [Fact]
    public void StepCountRoundsHalfUp()
    {
        Assert.Equal(2509, LocalizationMetrics.StepCount(1, 20, 224 * 224)); // 2508.8
        Assert.Equal(5018, LocalizationMetrics.StepCount(2, 20, 224 * 224)); // 5017.6: the 10% of fixation-only
        Assert.Equal(1, LocalizationMetrics.StepCount(1, 20, 10));           // 0.5
        Assert.Equal(0, LocalizationMetrics.StepCount(0, 20, 10));
        Assert.Equal(10, LocalizationMetrics.StepCount(20, 20, 10));
    }
}
