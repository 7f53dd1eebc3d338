using System.Diagnostics;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Captioning;

/// <summary>One generated word and the fixations behind it.</summary>
public sealed record CaptionWord(string Word, int Token, double Probability, DecoderFixations Decoder, FixationSet InputFixations)
{
    /// <summary>Weighted rules: the weights the decoder walk carried to the hidden units and the feature.</summary>
    public DecoderWeights? Weights { get; init; }

    /// <summary>Weighted rules: the CNN walk from the weighted feature (its <see cref="TensorExplanation.Weights"/> feed the heat map).</summary>
    public TensorExplanation? Explanation { get; init; }

    /// <summary>The per-word Grad-CAM baseline at the encoder's last spatial tensor, when asked for.</summary>
    public Baselines.SaliencyMap? GradCam { get; init; }
}

/// <summary>A caption and, per word, its fixations.</summary>
public sealed record CaptionResult(string Caption, IReadOnlyList<CaptionWord> Words, double ForwardMs, double WalkMs);

/// <summary>
/// A CNN-LSTM captioner (docs/captioning.md): the encoder is run by ONNX Runtime through an
/// <see cref="Explainer"/> that walks from the feature tensor; the decoder step is computed from its
/// ONNX weights (<see cref="LstmDecoder"/>). Greedy decoding; every word is walked back to the pixels.
/// </summary>
public sealed class Captioner : IDisposable
{
    public Captioner(CaptionerManifest manifest, UnravelOptions? unravel = null, int intraOpThreads = 0)
    {
        Manifest = manifest;
        if (!File.Exists(manifest.EncoderModel)) throw new CnnFixationsException($"captioner '{manifest.Path}': encoder model '{manifest.EncoderModel}' does not exist");
        if (!File.Exists(manifest.DecoderModel)) throw new CnnFixationsException($"captioner '{manifest.Path}': decoder model '{manifest.DecoderModel}' does not exist");
        if (!File.Exists(manifest.Vocabulary)) throw new CnnFixationsException($"captioner '{manifest.Path}': vocabulary '{manifest.Vocabulary}' does not exist");
        Encoder = OnnxModel.Load(manifest.EncoderModel);
        if (!Encoder.IsKnownTensor(manifest.FeatureTensor) || Encoder.IsConstant(manifest.FeatureTensor))
            throw new CnnFixationsException($"captioner '{manifest.Path}': the encoder has no tensor '{manifest.FeatureTensor}' (encoder.feature)");
        DecoderModel = OnnxModel.Load(manifest.DecoderModel, severalInputs: true);
        Decoder = LstmDecoder.FromOnnx(DecoderModel, manifest);
        Vocabulary = File.ReadAllLines(manifest.Vocabulary).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (Vocabulary.Length != Decoder.VocabSize)
            throw new CnnFixationsException($"captioner '{manifest.Path}': the vocabulary '{manifest.Vocabulary}' has {Vocabulary.Length} words, the decoder's logits have {Decoder.VocabSize}");
        if (Decoder.Embedding.Length / Decoder.EmbedSize != Vocabulary.Length)
            throw new CnnFixationsException($"captioner '{manifest.Path}': the word embedding has {Decoder.Embedding.Length / Decoder.EmbedSize} rows, the vocabulary {Vocabulary.Length} words");
        StartToken = TokenOf(manifest.StartToken, "start");
        EndToken = TokenOf(manifest.EndToken, "end");
        ImageToken = manifest.ImageToken != null ? TokenOf(manifest.ImageToken, "image.token") : -1;
        // The paper rules by default: on the demonstration captioner they ground words better than the weighted walk (docs/captioning.md).
        Explainer = new Explainer(Encoder, unravel ?? UnravelOptions.Paper, null, intraOpThreads, manifest.FeatureTensor);
        var shape = Explainer.TensorShape(manifest.FeatureTensor);
        if (shape != null && Shapes.ElementCount(shape) != Decoder.FeatureSize)
            throw new CnnFixationsException($"captioner '{manifest.Path}': the encoder's feature '{manifest.FeatureTensor}' has {Shapes.ElementCount(shape)} values ({Shapes.Format(shape)}), the decoder reads {Decoder.FeatureSize}");
    }

    public CaptionerManifest Manifest { get; }
    public OnnxModel Encoder { get; }
    public OnnxModel DecoderModel { get; }
    public LstmDecoder Decoder { get; }
    public Explainer Explainer { get; }
    public string[] Vocabulary { get; }
    public int StartToken { get; }
    public int EndToken { get; }
    public int ImageToken { get; }

    private int TokenOf(string token, string role)
    {
        int i = Array.IndexOf(Vocabulary, token);
        return i >= 0 ? i : throw new CnnFixationsException($"captioner '{Manifest.Path}': the {role} token '{token}' is not in the vocabulary");
    }

    /// <summary>The encoder's feature vector for an input, and the forward pass (dispose it).</summary>
    public (double[] Feature, Inference.ForwardPass Forward) Encode(TensorValue input)
    {
        var forward = Explainer.Forward(input);
        var f = forward[Manifest.FeatureTensor].Data;
        if (f.Length != Decoder.FeatureSize)
        {
            forward.Dispose();
            throw new CnnFixationsException($"the encoder's feature '{Manifest.FeatureTensor}' has {f.Length} values, the decoder reads {Decoder.FeatureSize}");
        }
        return (Array.ConvertAll(f, v => (double)v), forward);
    }

    /// <summary>
    /// Beam width of the decoding: 1 (default) is greedy; above 1, the <see cref="BeamWidth"/> partial captions
    /// with the highest sum of word log-probabilities are kept at every step (ties: the smaller token sequence),
    /// and the best finished caption (its end token's log-probability included) wins.
    /// </summary>
    public int BeamWidth { get; init; } = 1;

    /// <summary>Decoding from a feature vector (greedy, or beam search by <see cref="BeamWidth"/>): every step run on the chosen caption's path (the image step included) and the indices of the word steps.</summary>
    public (List<LstmStep> Steps, List<int> WordSteps) Decode(double[] feature, int maxWords)
    {
        var (steps, wordSteps, _) = DecodeWords(feature, maxWords);
        return (steps, wordSteps);
    }

    /// <summary><see cref="Decode"/> with the chosen words' tokens (under beam search a word need not be its step's most probable one).</summary>
    public (List<LstmStep> Steps, List<int> WordSteps, List<int> Tokens) DecodeWords(double[] feature, int maxWords)
    {
        var first = new List<LstmStep>();
        var (h, c) = Decoder.InitialState(feature);
        if (Manifest.Entry == ImageEntry.FirstStep)
        {
            var s0 = Decoder.Step(ImageToken, feature, h, c, imageStep: true);
            first.Add(s0);
            (h, c) = (s0.H, s0.C);
        }
        var beam = new List<Hypothesis> { new(first, new List<int>(), new List<int>(), 0, false, h, c) };
        for (int n = 0; n < maxWords && beam.Any(b => !b.Done); n++)
        {
            var next = new List<Hypothesis>();
            foreach (var hyp in beam)
            {
                if (hyp.Done) { next.Add(hyp); continue; }
                int token = hyp.Tokens.Count == 0 ? StartToken : hyp.Tokens[^1];
                var s = Decoder.Step(token, feature, hyp.H, hyp.C, imageStep: false);
                var steps = new List<LstmStep>(hyp.Steps) { s };
                if (BeamWidth == 1)
                {
                    int best = ArgMax(s.Logits);
                    next.Add(Extend(hyp, steps, s, best, LogSoftmax(s.Logits)[best]));
                    continue;
                }
                var logp = LogSoftmax(s.Logits);
                foreach (int w in Enumerable.Range(0, logp.Length).OrderByDescending(w => logp[w]).ThenBy(w => w).Take(BeamWidth))
                    next.Add(Extend(hyp, steps, s, w, logp[w]));
            }
            beam = next.OrderByDescending(b => b.Score).ThenBy(b => b.Tokens, TokenOrder.Instance).Take(BeamWidth).ToList();
        }
        // A caption that ended (its end token chosen) beats one cut at --max-words, whose score lacks that last term.
        var chosen = beam.OrderByDescending(b => b.Done).ThenByDescending(b => b.Score).ThenBy(b => b.Tokens, TokenOrder.Instance).First();
        return (chosen.Steps, chosen.WordSteps, chosen.Tokens);
    }

    /// <summary>A hypothesis after step <paramref name="s"/> chose <paramref name="word"/>: the end token finishes it.</summary>
    private Hypothesis Extend(Hypothesis hyp, List<LstmStep> steps, LstmStep s, int word, double logp)
    {
        if (word == EndToken) return new Hypothesis(steps, hyp.WordSteps, hyp.Tokens, hyp.Score + logp, true, s.H, s.C);
        var wordSteps = new List<int>(hyp.WordSteps) { steps.Count - 1 };
        var tokens = new List<int>(hyp.Tokens) { word };
        return new Hypothesis(steps, wordSteps, tokens, hyp.Score + logp, false, s.H, s.C);
    }

    private sealed record Hypothesis(List<LstmStep> Steps, List<int> WordSteps, List<int> Tokens, double Score, bool Done, double[] H, double[] C);

    private sealed class TokenOrder : IComparer<List<int>>
    {
        public static readonly TokenOrder Instance = new();
        public int Compare(List<int>? a, List<int>? b)
        {
            for (int i = 0; i < Math.Min(a!.Count, b!.Count); i++)
                if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return a.Count.CompareTo(b.Count);
        }
    }

    internal static double[] LogSoftmax(double[] v)
    {
        double max = v.Max(), sum = 0;
        foreach (double x in v) sum += Math.Exp(x - max);
        double log = max + Math.Log(sum);
        return Array.ConvertAll(v, x => x - log);
    }

    /// <summary>The rules of both walks (decoder and CNN): the explainer's.</summary>
    public RuleFamily Rules => Explainer.Options.Rules;

    /// <summary>Captions an input tensor and walks every word back to the input.</summary>
    public CaptionResult Caption(TensorValue input, int maxWords = 20, CaptionWalkOptions? walk = null) => Caption(input, null, maxWords, walk);

    /// <summary>Captions an image and walks every word back to the input; with <paramref name="gradCam"/> also the per-word Grad-CAM baseline.</summary>
    public CaptionResult Caption(ExplanationInput input, int maxWords = 20, CaptionWalkOptions? walk = null, bool gradCam = false) =>
        Caption(input.Tensor, gradCam ? input : null, maxWords, walk);

    private CaptionResult Caption(TensorValue input, ExplanationInput? gradCamImage, int maxWords, CaptionWalkOptions? walk)
    {
        var sw = Stopwatch.StartNew();
        var (feature, handle) = Encode(input);
        using var _ = handle;
        double forwardMs = sw.Elapsed.TotalMilliseconds;
        var (steps, wordSteps, tokens) = DecodeWords(feature, maxWords);
        var words = new List<CaptionWord>();
        var featureShape = handle[Manifest.FeatureTensor].Shape;
        for (int k = 0; k < wordSteps.Count; k++)
        {
            int t = wordSteps[k];
            var s = steps[t];
            int w = tokens[k];
            var p = Softmax(s.Logits)[w];
            var cam = gradCamImage == null ? null : WordGradCam(handle, CaptionGradient.FeatureGradient(Decoder, steps, t, w, feature), gradCamImage);
            if (Rules == RuleFamily.Weighted)
            {
                var weights = CaptionWalk.RunWeighted(Decoder, steps, t, w, feature, walk);
                var hidden = Enumerable.Range(0, weights.Hidden.Length).Where(k => weights.Hidden[k] > 0).ToArray();
                var dims = weights.FeatureDims();
                var dec = new DecoderFixations(hidden, dims, 0, 0);
                if (dims.Length == 0)
                {
                    words.Add(new CaptionWord(Vocabulary[w], w, p, dec, new FixationSet(Encoder.InputName, input.Shape)) { Weights = weights, GradCam = cam });
                    continue;
                }
                var start = new float[weights.Feature.Length];
                for (int m = 0; m < start.Length; m++) start[m] = (float)(weights.Feature[m] / weights.ImageShare);
                var explanation = Explainer.UnravelFromWeights(handle, start);
                words.Add(new CaptionWord(Vocabulary[w], w, p, dec, explanation.Fixations.Input) { Weights = weights, Explanation = explanation, GradCam = cam });
            }
            else
            {
                var dec = CaptionWalk.Run(Decoder, steps, t, w, feature, walk);
                var start = new FixationSet(Manifest.FeatureTensor, featureShape);
                foreach (int m in dec.FeatureDims) start.Add(m);
                FixationSet fixations = start.IsEmpty ? new FixationSet(Encoder.InputName, input.Shape) : Explainer.UnravelSet(handle, start).Input;
                words.Add(new CaptionWord(Vocabulary[w], w, p, dec, fixations) { GradCam = cam });
            }
        }
        return new CaptionResult(string.Join(" ", words.Select(x => x.Word)), words, forwardMs, sw.Elapsed.TotalMilliseconds - forwardMs);
    }

    /// <summary>
    /// Per-word Grad-CAM: the feature gradient taken back through the global average pooling that makes the
    /// feature (uniform over the positions), so alpha_k = d logit / d f_k / (H*W), and the map
    /// ReLU(sum_k alpha_k A_k) at the pooling's input A, upsampled to the image.
    /// </summary>
    private Baselines.SaliencyMap WordGradCam(Inference.ForwardPass forward, double[] featureGradient, ExplanationInput image)
    {
        var spatial = SpatialFeature ?? throw new CnnFixationsException($"per-word Grad-CAM needs the feature '{Manifest.FeatureTensor}' to be a global average pooling of a spatial tensor");
        var a = forward[spatial];
        int channels = a.Shape[1], h = a.Shape[2], w = a.Shape[3], plane = h * w;
        if (channels != featureGradient.Length) throw new CnnFixationsException($"per-word Grad-CAM: '{spatial}' has {channels} channels, the feature {featureGradient.Length}");
        var cam = new double[plane];
        for (int k = 0; k < channels; k++)
        {
            double alpha = featureGradient[k] / plane;
            if (alpha == 0) continue;
            for (int i = 0; i < plane; i++) cam[i] += alpha * a.Data[k * plane + i];
        }
        var grid = Array.ConvertAll(cam, v => (float)Math.Max(v, 0));
        return new Baselines.SaliencyMap(Baselines.SaliencyUpsampler.ToImage(grid, h, w, image), image.Width, image.Height);
    }

    /// <summary>The spatial tensor whose global average pooling is the feature (through reshapes), or null.</summary>
    public string? SpatialFeature => _spatial ??= FindSpatialFeature();

    private string? _spatial;

    private string? FindSpatialFeature()
    {
        string t = Baselines.ClassifierStructure.Skip(Encoder, Manifest.FeatureTensor);
        var p = Encoder.Producer(t);
        if (p == null || !p.IsDefaultDomain) return null;
        bool global = p.OpType is "GlobalAveragePool" or "ReduceMean"
                      || p.OpType == "AveragePool" && Explainer.TensorShape(t) is { Length: 4 } s && s[2] == 1 && s[3] == 1;
        return global && Explainer.TensorShape(p.Inputs[0]) is { Length: 4 } ? p.Inputs[0] : null;
    }

    internal static int ArgMax(double[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    internal static double[] Softmax(double[] v)
    {
        double max = v.Max(), sum = 0;
        var p = new double[v.Length];
        for (int i = 0; i < v.Length; i++) sum += p[i] = Math.Exp(v[i] - max);
        for (int i = 0; i < v.Length; i++) p[i] /= sum;
        return p;
    }

    public void Dispose() => Explainer.Dispose();
}
