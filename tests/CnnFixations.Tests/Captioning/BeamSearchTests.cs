using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Tests.Captioning;

/// <summary>Beam search against greedy decoding and against an exhaustive search written out here.</summary>
public class BeamSearchTests
{
    private static double[] Feature(Captioner captioner)
    {
        var (shape, data) = NpyFile.ReadFloat32(Path.Combine(CaptionerTests.Fixtures, "input.npy"));
        var (feature, forward) = captioner.Encode(new TensorValue(shape, data));
        forward.Dispose();
        return feature;
    }

    [Theory, MemberData(nameof(CaptionerTests.Entries), MemberType = typeof(CaptionerTests))]
    public void Width_one_is_the_greedy_caption(string entry)
    {
        using var greedy = CaptionerTests.Load(entry);
        var feature = Feature(greedy);
        var (steps, words) = greedy.Decode(feature, 6);
        // Greedy by hand: the argmax of every step, until the end token.
        var d = greedy.Decoder;
        var (h, c) = d.InitialState(feature);
        int offset = 0;
        if (greedy.Manifest.Entry == ImageEntry.FirstStep) { var s0 = d.Step(greedy.ImageToken, feature, h, c, true); (h, c) = (s0.H, s0.C); offset = 1; }
        int token = greedy.StartToken;
        var expected = new List<int>();
        for (int n = 0; n < 6; n++)
        {
            var s = d.Step(token, feature, h, c, false);
            int next = Array.IndexOf(s.Logits, s.Logits.Max());
            if (next == greedy.EndToken) break;
            expected.Add(next);
            (h, c, token) = (s.H, s.C, next);
        }
        Assert.Equal(expected, words.Select(t => Array.IndexOf(steps[t].Logits, steps[t].Logits.Max())).ToList());
        Assert.Equal(Enumerable.Range(offset, expected.Count), words);
    }

    [Theory, MemberData(nameof(CaptionerTests.Entries), MemberType = typeof(CaptionerTests))]
    public void A_beam_that_prunes_nothing_finds_the_most_probable_caption_of_up_to_two_words(string entry)
    {
        using var plain = CaptionerTests.Load(entry);
        var d = plain.Decoder;
        int v = d.VocabSize;
        var wide = plain;
        var feature = Feature(wide);
        // Exhaustive: every caption of one word then the end token, or of two words then the end token.
        var (h0, c0) = d.InitialState(feature);
        if (wide.Manifest.Entry == ImageEntry.FirstStep) { var s0 = d.Step(wide.ImageToken, feature, h0, c0, true); (h0, c0) = (s0.H, s0.C); }
        double bestScore = double.NegativeInfinity;
        List<int> best = new();
        var s1 = d.Step(wide.StartToken, feature, h0, c0, false);
        var l1 = Captioner.LogSoftmax(s1.Logits);
        if (l1[wide.EndToken] > bestScore) (bestScore, best) = (l1[wide.EndToken], new List<int>());
        for (int a = 0; a < v; a++)
        {
            if (a == wide.EndToken) continue;
            var s2 = d.Step(a, feature, s1.H, s1.C, false);
            var l2 = Captioner.LogSoftmax(s2.Logits);
            if (l1[a] + l2[wide.EndToken] > bestScore) (bestScore, best) = (l1[a] + l2[wide.EndToken], new List<int> { a });
            for (int b = 0; b < v; b++)
            {
                if (b == wide.EndToken) continue;
                var s3 = d.Step(b, feature, s2.H, s2.C, false);
                double score = l1[a] + l2[b] + Captioner.LogSoftmax(s3.Logits)[wide.EndToken];
                if (score > bestScore) (bestScore, best) = (score, new List<int> { a, b });
            }
        }
        // Width 1000 prunes nothing up to three steps (at most 820 hypotheses), so the beam is the exhaustive
        // search; with --max-words 3 the captions that end have at most two words, those enumerated above.
        using var all = new Captioner(CaptionerManifest.Load(Path.Combine(CaptionerTests.Fixtures, entry)), CnnFixations.Unravel.UnravelOptions.Paper) { BeamWidth = 1000 };
        var (steps, words, tokens) = all.DecodeWords(feature, 3);
        Assert.True(tokens.Count <= 2, "the fixture's best caption of up to two words should end");
        Assert.Equal(tokens.Count, words.Count);
        Assert.Equal(best, tokens);
        // A narrower beam still returns a caption whose words are the tokens its steps read next.
        using var three = new Captioner(CaptionerManifest.Load(Path.Combine(CaptionerTests.Fixtures, entry)), CnnFixations.Unravel.UnravelOptions.Paper) { BeamWidth = 3 };
        var (st3, w3, t3) = three.DecodeWords(feature, 6);
        for (int k = 0; k + 1 < w3.Count; k++) Assert.Equal(t3[k], st3[w3[k] + 1].Token);
        var caption = three.Caption(new TensorValue(NpyFile.ReadFloat32(Path.Combine(CaptionerTests.Fixtures, "input.npy")).Shape, NpyFile.ReadFloat32(Path.Combine(CaptionerTests.Fixtures, "input.npy")).Data), 6);
        Assert.Equal(t3.Select(t => three.Vocabulary[t]), caption.Words.Select(w => w.Word));
    }
}
