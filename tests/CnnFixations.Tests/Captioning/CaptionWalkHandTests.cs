using CnnFixations.Captioning;

namespace CnnFixations.Tests.Captioning;

/// <summary>The word walk (docs/captioning.md, rules 1-4) on a two-unit LSTM whose values are set by hand, each decision worked out below.</summary>
public class CaptionWalkHandTests
{
    // H = 2, E = 2, F = 3, V = 3; gate rows i: 0-1, f: 2-3, g: 4-5, o: 6-7.
    internal static LstmDecoder Decoder()
    {
        var w = new float[8 * 2];
        w[4 * 2 + 0] = 1; w[4 * 2 + 1] = -1;      // W_g[0,:] = [1, -1]
        w[5 * 2 + 1] = 1;                          // W_g[1,:] = [0, 1]
        var r = new float[8 * 2];
        r[4 * 2 + 0] = -2; r[4 * 2 + 1] = 1;       // R_g[0,:] = [-2, 1]
        var image = new LinearLayer(new float[] { 1, -1, 0, 2, 1, -1 }, new float[2], 2, 3, false); // W_img = [[1,-1,0],[2,1,-1]]
        var output = new LinearLayer(new float[] { 0, 0, 0, 0, 1, -1 }, new float[3], 3, 2, false); // W_out[2,:] = [1, -1]
        return new LstmDecoder(new float[3 * 2], 2, image, null, null, w, r, new double[8], 2, output, 3);
    }

    private static LstmStep Step(double[] x, double[] hPrev, double[] cPrev, double[] i, double[] f, double[] g, double[] c, double[] h, double[]? image) =>
        new(x, hPrev, cPrev, i, f, g, new[] { 0.5, 0.5 }, c, h, new double[3]) { ImagePart = image };

    internal static List<LstmStep> Steps() => new()
    {
        // t = 0, the image step: x_0 = [-0.7, 0.2], c_0 = [-0.3, 0.4], h_0 = [-0.2, 0.3].
        Step(new[] { -0.7, 0.2 }, new double[2], new double[2], new[] { 0.5, 0.5 }, new[] { 0.5, 0.5 }, new[] { -0.6, 0.8 },
             new[] { -0.3, 0.4 }, new[] { -0.2, 0.3 }, new[] { -0.9, 0.1 }),
        // t = 1, reads a word: x_1 = [0.5, 0.5], c_1 = [0.8, 0.2], h_1 = [0.5, 0.2].
        Step(new[] { 0.5, 0.5 }, new[] { -0.2, 0.3 }, new[] { -0.3, 0.4 }, new[] { 0.5, 0.5 }, new[] { 0.9, 0.9 }, new[] { 0.6, -0.1 },
             new[] { 0.8, 0.2 }, new[] { 0.5, 0.2 }, null),
    };

    internal static readonly double[] Feature = { 1, 2, 3 };

    [Fact]
    public void Full_walk_matches_the_hand_computation()
    {
        var r = CaptionWalk.Run(Decoder(), Steps(), 1, 2, Feature);
        // (1) W_out[2,k] * h_1[k]: 1*0.5 > 0 keeps unit 0; -1*0.2 < 0 drops unit 1.
        Assert.Equal(new[] { 0 }, r.HiddenUnits);
        // (3) t=1, c_1[0] = 0.8 > 0: f*c_0 = 0.9*(-0.3) < 0, no cell path. i*g = 0.3 > 0: through z_g[0]:
        //     W_g[0,:]*x_1 = [0.5, -0.5]: x_1[0] kept (a word input, the walk ends there);
        //     R_g[0,:]*h_0 = [0.4, 0.3]: both h_0 units kept, carried to c_0[0], c_0[1].
        // t=0, c_0[0] = -0.3 (s = -1): i*g = -0.3 supports it; W_g[0,:]*x_0*s = [0.7, 0.2]: x_0[0], x_0[1] kept.
        //     c_0[1] = 0.4: i*g = 0.4 supports it; W_g[1,:]*x_0 = [0, 0.2]: x_0[1] kept.
        // (4) x_0[0] = -0.7: W_img[0,m]*f[m]*(-1) = [-1, 2, 0] keeps m=1; x_0[1] = 0.2: W_img[1,m]*f[m] = [2, 2, -3] keeps m=0, m=1.
        Assert.Equal(new[] { 0, 1 }, r.FeatureDims);
        Assert.Equal(1, r.WordInputsReached);
        Assert.Equal(3, r.CellsVisited); // c_1[0], then c_0[0] and c_0[1]
    }

    [Fact]
    public void Cell_path_only_stops_where_the_cell_does_not_support_itself()
    {
        // Without R_g h_0 the only way back from c_1[0] is f*c_0[0] = -0.27 against c_1[0] = 0.8: nothing reaches the image.
        var r = CaptionWalk.Run(Decoder(), Steps(), 1, 2, Feature, new CaptionWalkOptions { CellPathOnly = true });
        Assert.Equal(new[] { 0 }, r.HiddenUnits);
        Assert.Empty(r.FeatureDims);
    }

    [Fact]
    public void A_supporting_cell_path_reaches_the_image_step()
    {
        // The same but c_0[0] positive (0.3, with h_0[0] = 0.2, i*g at t=0 = 0.5*0.6): the cell path now carries c_1[0] back to c_0[0],
        // where W_g[0,:]*x_0 = [-0.7, -0.2] keeps nothing (x_0 = [-0.7, 0.2]), so no feature dim; with x_0 = [0.7, 0.2]: x_0[0] kept,
        // W_img[0,:]*f = [1, -2, 0] keeps m=0.
        var steps = Steps();
        steps[0] = steps[0] with { X = new[] { 0.7, 0.2 }, G = new[] { 0.6, 0.8 }, C = new[] { 0.3, 0.4 }, H = new[] { 0.2, 0.3 } };
        steps[1] = steps[1] with { HPrev = new[] { 0.2, 0.3 }, CPrev = new[] { 0.3, 0.4 } };
        var r = CaptionWalk.Run(Decoder(), steps, 1, 2, Feature, new CaptionWalkOptions { CellPathOnly = true });
        Assert.Equal(new[] { 0 }, r.FeatureDims);
    }
}

public class ContributionShareTests
{
    [Fact]
    public void Share_one_keeps_every_supporting_contribution_and_smaller_shares_the_largest_first()
    {
        var c = new List<(int, double)> { (0, 0.5), (1, -2.0), (2, 3.0), (3, 1.5), (4, 0.0) };
        var all = new List<int>();
        CaptionWalk.Supporting(c, 1.0, all);
        Assert.Equal(new[] { 0, 2, 3 }, all); // positive only, in index order
        var half = new List<int>();
        CaptionWalk.Supporting(c, 0.5, half);
        Assert.Equal(new[] { 2 }, half); // 3.0 of 5.0 reaches half
        var most = new List<int>();
        CaptionWalk.Supporting(c, 0.9, most);
        Assert.Equal(new[] { 2, 3 }, most); // 4.5 of 5.0 reaches 0.9
        var none = new List<int>();
        CaptionWalk.Supporting(new List<(int, double)> { (0, -1.0) }, 0.5, none);
        Assert.Empty(none);
    }

    [Fact]
    public void A_smaller_share_keeps_a_subset_on_the_tiny_captioner()
    {
        using var captioner = CaptionerTests.Load("first-step");
        var (shape, data) = CnnFixations.Imaging.NpyFile.ReadFloat32(Path.Combine(CaptionerTests.Fixtures, "input.npy"));
        var input = new CnnFixations.Onnx.TensorValue(shape, data);
        var full = captioner.Caption(input, 6);
        var sparse = captioner.Caption(input, 6, new CaptionWalkOptions { ContributionShare = 0.3 });
        Assert.Equal(full.Caption, sparse.Caption);
        for (int i = 0; i < full.Words.Count; i++)
        {
            Assert.Subset(full.Words[i].Decoder.HiddenUnits.ToHashSet(), sparse.Words[i].Decoder.HiddenUnits.ToHashSet());
            Assert.Subset(full.Words[i].Decoder.FeatureDims.ToHashSet(), sparse.Words[i].Decoder.FeatureDims.ToHashSet());
        }
        Assert.Contains(Enumerable.Range(0, full.Words.Count), i => full.Words[i].Decoder.HiddenUnits.Length > sparse.Words[i].Decoder.HiddenUnits.Length);
    }
}
