using System.Text.Json;
using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Tests.Captioning;

/// <summary>
/// The weighted decoder walk (docs/captioning.md, "Weighted rules") against a hand computation and against
/// the separate NumPy implementation in tools/captioning/make_tiny_captioner.py; the per-word feature
/// gradient (for the Grad-CAM baseline) against PyTorch autograd.
/// </summary>
public class WeightedCaptionWalkTests
{
    [Fact]
    public void Weighted_walk_matches_the_hand_computation()
    {
        // The two-unit decoder of CaptionWalkHandTests, word 2 at step 1.
        var r = CaptionWalk.RunWeighted(CaptionWalkHandTests.Decoder(), CaptionWalkHandTests.Steps(), 1, 2, CaptionWalkHandTests.Feature, NoContrast);
        // (1) W_out[2,:]*h_1 = [0.5, -0.2]: unit 0 takes all the weight.
        Assert.Equal(new[] { 1.0, 0.0 }, r.Hidden);
        // t=1, c_1[0] = 0.8: f*c_0 = -0.27 does not support it, i*g = 0.3 does: all weight 1 to z_g[0], whose
        //   supporting terms are W_g x_1 = 0.5 (word input x_1[0]), R_g h_0 = 0.4 (h_0[0]) and 0.3 (h_0[1]), of 1.2:
        //   5/12 ends at the word, 4/12 and 3/12 go to c_0[0] and c_0[1].
        // t=0, c_0[0] = -0.3 (s = -1): only i*g supports it; W_g[0,:] x_0 s = [0.7, 0.2]: x_0 gets 1/3*7/9 = 7/27 and 1/3*2/9 = 2/27.
        //   c_0[1] = 0.4: W_g[1,:] x_0 = [0, 0.2]: x_0[1] gets 1/4.   x_0 = [7/27, 2/27 + 1/4 = 35/108].
        // (4) x_0[0] = -0.7: W_img[0,:] f s = [-1, 2, 0]: m=1 gets 7/27. x_0[1] = 0.2: [2, 2, -3]: m=0 and m=1 get 35/216 each.
        Assert.Equal(35.0 / 216, r.Feature[0], 12);
        Assert.Equal(7.0 / 27 + 35.0 / 216, r.Feature[1], 12);
        Assert.Equal(0.0, r.Feature[2]);
        Assert.Equal(7.0 / 12, r.ImageShare, 12);
        Assert.Equal(5.0 / 12, r.WordShare, 12);
        Assert.Equal(new[] { 0, 1 }, r.FeatureDims());
    }

    private static readonly CaptionWalkOptions NoContrast = new() { Contrast = false };

    [Fact]
    public void Contrast_subtracts_the_other_words_walks_by_hand()
    {
        // The hand decoder's step 1 has logits 0 (all three words equally likely, p = 1/3), so each other word
        // weighs 0.5 * (1/3)/(2/3) + 0.5 / 2 = 0.5. Word 0 and word 1 have W_out rows of zeros: no supporting
        // contribution, no shares; the contrast takes nothing away and the walk equals the plain one.
        var plain = CaptionWalk.RunWeighted(CaptionWalkHandTests.Decoder(), CaptionWalkHandTests.Steps(), 1, 2, CaptionWalkHandTests.Feature, NoContrast);
        var contrast = CaptionWalk.RunWeighted(CaptionWalkHandTests.Decoder(), CaptionWalkHandTests.Steps(), 1, 2, CaptionWalkHandTests.Feature);
        Assert.Equal(plain.Feature, contrast.Feature);
        // Word 1 given W_out[1,:] = [0.5, 0] shares like word 2 (all on unit 0): its contrast weight 0.5 halves
        // every share, so the image weights are half the plain ones (35/432, 91/432).
        var d = CaptionWalkHandTests.Decoder();
        d.Output.Weight[1 * 2 + 0] = 0.5f;
        var half = CaptionWalk.RunWeighted(d, CaptionWalkHandTests.Steps(), 1, 2, CaptionWalkHandTests.Feature);
        Assert.Equal(35.0 / 432, half.Feature[0], 12);
        Assert.Equal(91.0 / 432, half.Feature[1], 12);
        Assert.Equal(new[] { 0.5, 0.0 }, half.Hidden);
        // And word 1 explained against word 2 (same shares, weight 0.5): what stays is again half.
        var other = CaptionWalk.RunWeighted(d, CaptionWalkHandTests.Steps(), 1, 1, CaptionWalkHandTests.Feature);
        Assert.Equal(35.0 / 432, other.Feature[0], 12);
    }

    [Fact]
    public void Cell_path_only_sends_the_weight_to_the_word_input()
    {
        // Without R_g h_0, z_g[0]'s only supporting term is x_1[0]: the whole weight ends at the word.
        var r = CaptionWalk.RunWeighted(CaptionWalkHandTests.Decoder(), CaptionWalkHandTests.Steps(), 1, 2, CaptionWalkHandTests.Feature, new CaptionWalkOptions { CellPathOnly = true, Contrast = false });
        Assert.Equal(1.0, r.WordShare, 12);
        Assert.Equal(0.0, r.ImageShare);
        Assert.Empty(r.FeatureDims());
    }

    public static readonly TheoryData<string> Entries = CaptionerTests.Entries;

    private static JsonElement Reference(string entry)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(CaptionerTests.Fixtures, "reference.json")));
        return doc.RootElement.GetProperty(entry == "written-cell" ? "first-step" : entry).Clone();
    }

    private static TensorValue Input()
    {
        var (shape, data) = NpyFile.ReadFloat32(Path.Combine(CaptionerTests.Fixtures, "input.npy"));
        return new TensorValue(shape, data);
    }

    private static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory, MemberData(nameof(Entries))]
    public void Weighted_walk_equals_the_numpy_reference(string entry)
    {
        var reference = Reference(entry);
        using var captioner = CaptionerTests.Load(entry, UnravelOptions.Default);
        var (feature, forward) = captioner.Encode(Input());
        forward.Dispose();
        var (steps, wordSteps) = captioner.Decode(feature, 6);
        var words = reference.GetProperty("words").EnumerateArray().ToList();
        var cellOnly = reference.GetProperty("weightedCellPathOnly").EnumerateArray().ToList();
        Assert.Equal(words.Count, wordSteps.Count);
        bool someImage = false;
        for (int i = 0; i < words.Count; i++)
        {
            int t = wordSteps[i], token = words[i].GetProperty("token").GetInt32();
            var expected = words[i].GetProperty("weighted");
            var full = CaptionWalk.RunWeighted(captioner.Decoder, steps, t, token, feature, NoContrast);
            AssertClose(Doubles(expected.GetProperty("hidden")), full.Hidden, 1e-5);
            AssertClose(Doubles(expected.GetProperty("feature")), full.Feature, 1e-5);
            Assert.Equal(expected.GetProperty("imageShare").GetDouble(), full.ImageShare, 5);
            Assert.Equal(expected.GetProperty("wordShare").GetDouble(), full.WordShare, 5);
            var contrastive = words[i].GetProperty("weightedContrast");
            var byDefault = CaptionWalk.RunWeighted(captioner.Decoder, steps, t, token, feature);
            AssertClose(Doubles(contrastive.GetProperty("hidden")), byDefault.Hidden, 1e-5);
            AssertClose(Doubles(contrastive.GetProperty("feature")), byDefault.Feature, 1e-5);
            var cell = CaptionWalk.RunWeighted(captioner.Decoder, steps, t, token, feature, new CaptionWalkOptions { CellPathOnly = true, Contrast = false });
            AssertClose(Doubles(cellOnly[i].GetProperty("feature")), cell.Feature, 1e-5);
            someImage |= full.ImageShare > 0.05;
            // Weight is only lost where neither part of a cell supports it: never created.
            Assert.True(full.ImageShare + full.WordShare <= 1 + 1e-9);
        }
        Assert.True(someImage, "some word should carry weight to the image feature");
    }

    [Theory, MemberData(nameof(Entries))]
    public void Feature_gradient_equals_pytorch_autograd(string entry)
    {
        var reference = Reference(entry);
        using var captioner = CaptionerTests.Load(entry);
        var (feature, forward) = captioner.Encode(Input());
        forward.Dispose();
        var (steps, wordSteps) = captioner.Decode(feature, 6);
        var words = reference.GetProperty("words").EnumerateArray().ToList();
        var grads = reference.GetProperty("featureGradients").EnumerateArray().ToList();
        for (int i = 0; i < words.Count; i++)
        {
            var g = CaptionGradient.FeatureGradient(captioner.Decoder, steps, wordSteps[i], words[i].GetProperty("token").GetInt32(), feature);
            AssertClose(Doubles(grads[i]), g, 1e-4);
        }
    }

    [Fact]
    public void Weighted_caption_words_reach_the_pixels_and_grad_cam_gives_a_map()
    {
        using var captioner = CaptionerTests.Load("first-step", UnravelOptions.Default);
        var tensor = Input();
        var rgb = new byte[3 * 16 * 16];
        var input = ExplanationInput.FromImage(null, new RgbImage(16, 16, rgb), Preprocessing.Torchvision, 16, 16);
        var result = captioner.Caption(tensor, 6);
        var paper = CaptionerTests.Load("first-step").Caption(tensor, 6);
        Assert.Equal(paper.Caption, result.Caption); // the rules change the explanation, not the caption
        foreach (var word in result.Words)
        {
            Assert.NotNull(word.Weights);
            if (word.Weights!.ImageShare > 0)
            {
                Assert.NotNull(word.Explanation);
                Assert.True(word.InputFixations.Count > 0);
                // The CNN walk carried the feature weights down to the input.
                Assert.Contains(word.Explanation!.Weights!.Input, v => v > 0);
            }
        }
        var withCam = captioner.Caption(input, 6, null, gradCam: true);
        Assert.All(withCam.Words, w => Assert.Equal(16 * 16, w.GradCam!.Heat.Length));
        Assert.NotNull(captioner.SpatialFeature);
    }
}
