namespace CnnFixations.Captioning;

/// <summary>Options of the walk through the decoder.</summary>
public sealed record CaptionWalkOptions
{
    public static readonly CaptionWalkOptions Default = new();

    /// <summary>
    /// Follow only the cell path (f*c_{t-1}) and each step's own input (W_g x_t), not the recurrent
    /// connections (R_g h_{t-1}).
    /// </summary>
    public bool CellPathOnly { get; init; }

    /// <summary>
    /// At each fully connected step (rules 1, 3 and 4) keep, per kept neuron, only the largest
    /// supporting contributions that together make up this share of their sum (1: every supporting
    /// contribution, the rule as written; smaller values keep fewer, stronger inputs).
    /// </summary>
    public double ContributionShare { get; init; } = 1.0;

    /// <summary>
    /// Weighted rules: the word's evidence minus the other words' (contrastive), as the classifier walk does
    /// with classes: the other words' walks, weighted <see cref="SoftmaxShare"/> by their probabilities
    /// and the rest evenly, are subtracted; what stays positive at the feature is the word's own evidence.
    /// </summary>
    public bool Contrast { get; init; } = true;

    /// <summary>With <see cref="Contrast"/>: the part of the competitors' weight that goes by their probabilities (the rest is an even mean).</summary>
    public double SoftmaxShare { get; init; } = 0.5;
}

/// <summary>
/// What the weighted walk through the decoder gave one word: the share of the word's logit carried to each
/// hidden unit of the word's step and to each feature dimension, and the share that ended at word inputs
/// (the caption so far) instead of the image.
/// </summary>
public sealed record DecoderWeights(double[] Hidden, double[] Feature, double ImageShare, double WordShare)
{
    /// <summary>The feature dimensions with weight, in index order.</summary>
    public int[] FeatureDims() => Enumerable.Range(0, Feature.Length).Where(m => Feature[m] > 0).ToArray();
}

/// <summary>
/// What the walk through the decoder kept for one word. <see cref="CellsVisited"/> and <see cref="WordInputsReached"/>
/// are counted by the paper rules' walk (<see cref="CaptionWalk.Run"/>) and are 0 under the weighted rules.
/// </summary>
public sealed record DecoderFixations(
    int[] HiddenUnits,
    int[] FeatureDims,
    int CellsVisited,
    int WordInputsReached);

/// <summary>
/// The CNN Fixations walk from one word's logit back through the LSTM decoder to the image feature
/// vector (docs/captioning.md states the rule). "Supports" means a contribution of the same sign as the
/// value it adds to; for a positive value that is the spec's positive contribution a_i * w_ji &gt; 0.
/// </summary>
public static class CaptionWalk
{
    /// <param name="steps">Every decoder step run so far, in order (the image step first for first-step entry).</param>
    /// <param name="wordStep">The step whose logits gave the word.</param>
    /// <param name="feature">The image feature vector.</param>
    public static DecoderFixations Run(LstmDecoder d, IReadOnlyList<LstmStep> steps, int wordStep, int word, ReadOnlySpan<double> feature, CaptionWalkOptions? options = null)
    {
        options ??= CaptionWalkOptions.Default;
        int n = d.Hidden, e = d.EmbedSize;
        var top = steps[wordStep];
        // (1) hidden units whose contribution to the word's logit is positive.
        var hidden = new List<int>();
        var share = options.ContributionShare;
        var scratch = new List<(int Index, double Contribution)>();
        for (int k = 0; k < n; k++) scratch.Add((k, d.Output.Weight[word * n + k] * top.H[k]));
        Supporting(scratch, share, hidden);
        hidden.Sort();
        // (2) h = o * tanh(c): a kept hidden unit is carried to its cell.
        var cells = new SortedSet<int>(hidden);
        var features = new SortedSet<int>();
        int visited = 0, wordInputs = 0;
        var gWeights = 2 * n; // row offset of gate g in W and R
        for (int t = wordStep; t >= 0 && cells.Count > 0; t--)
        {
            var s = steps[t];
            visited += cells.Count;
            var prevCells = new SortedSet<int>();
            var prevHidden = new SortedSet<int>();
            var inputs = new SortedSet<int>();
            foreach (int k in cells)
            {
                double sign = Math.Sign(s.C[k]);
                if (sign == 0) continue;
                // (3a) the cell path: f * c_{t-1} supports c_t.
                if (s.F[k] * s.CPrev[k] * sign > 0) prevCells.Add(k);
                // (3b) the written-in part i * g supports c_t: walk through g's pre-activation W_g x_t + R_g h_{t-1}.
                if (s.I[k] * s.G[k] * sign > 0)
                {
                    int row = gWeights + k;
                    // Inputs and recurrent units compete together for the pre-activation z_g[k] (indices >= e are h_{t-1}).
                    scratch.Clear();
                    for (int j = 0; j < e; j++) scratch.Add((j, d.W[row * e + j] * s.X[j] * sign));
                    if (!options.CellPathOnly)
                        for (int j = 0; j < n; j++) scratch.Add((e + j, d.R[row * n + j] * s.HPrev[j] * sign));
                    var chosen = new List<int>();
                    Supporting(scratch, share, chosen);
                    foreach (int j in chosen)
                        if (j < e) inputs.Add(j); else prevHidden.Add(j - e);
                }
            }
            // (4) the image step: the FC rule from the kept inputs through the image embedding to the feature.
            if (s.ImagePart != null && inputs.Count > 0)
            {
                var img = d.ImageEmbedding!;
                var chosen = new List<int>();
                foreach (int j in inputs)
                {
                    double sx = Math.Sign(s.X[j]);
                    scratch.Clear();
                    for (int m = 0; m < img.In; m++) scratch.Add((m, img.Weight[j * img.In + m] * feature[m] * sx));
                    chosen.Clear();
                    Supporting(scratch, share, chosen);
                    features.UnionWith(chosen);
                }
            }
            else wordInputs += inputs.Count; // a word's embedding carries no image: the walk ends there
            if (t == 0)
            {
                // Initial-state entry: c_{-1} and h_{-1} are linear layers of the feature.
                if (d.InitialC != null) AddLinear(d.InitialC, prevCells, feature, features, share);
                if (d.InitialH != null) AddLinear(d.InitialH, prevHidden, feature, features, share);
                break;
            }
            prevCells.UnionWith(prevHidden); // (2) again: h_{t-1} = o * tanh(c_{t-1})
            cells = prevCells;
        }
        return new DecoderFixations(hidden.ToArray(), features.ToArray(), visited, wordInputs);
    }

    /// <summary>
    /// The weighted walk (docs/captioning.md, "Weighted rules"): the word's logit starts with weight 1, and
    /// every kept neuron shares its weight among its supporting contributions in proportion to their size;
    /// a cell shares it between its cell path and its written-in part the same way. Weight reaching a word
    /// input ends there; weight reaching the image feature is the feature's weight.
    /// </summary>
    public static DecoderWeights RunWeighted(LstmDecoder d, IReadOnlyList<LstmStep> steps, int wordStep, int word, ReadOnlySpan<double> feature, CaptionWalkOptions? options = null)
    {
        options ??= CaptionWalkOptions.Default;
        int n = d.Hidden, e = d.EmbedSize;
        double share = options.ContributionShare;
        var top = steps[wordStep];
        var scratch = new List<(int Index, double Contribution)>();
        var hidden = HiddenShares(d, top, word, share, 1.0);
        if (options.Contrast)
        {
            // (1') contrast: the other words' shares, weighted by probability and evenly, are subtracted. Every later
            // split is a fixed proportion, so the walk of this signed start is the difference of the words' walks.
            var p = Captioner.Softmax(top.Logits);
            int vocab = p.Length;
            for (int v = 0; v < vocab; v++)
            {
                if (v == word) continue;
                double q = options.SoftmaxShare * (p[word] < 1 ? p[v] / (1 - p[word]) : 0) + (1 - options.SoftmaxShare) / (vocab - 1);
                if (q == 0) continue;
                var other = HiddenShares(d, top, v, share, q);
                for (int k = 0; k < n; k++) hidden[k] -= other[k];
            }
        }
        var cells = (double[])hidden.Clone(); // (2) h = o * tanh(c): a hidden unit's weight goes to its cell
        var features = new double[feature.Length];
        double wordShare = 0;
        int gRows = 2 * n; // row offset of gate g in W and R
        for (int t = wordStep; t >= 0; t--)
        {
            var s = steps[t];
            var prevCells = new double[n];
            var prevHidden = new double[n];
            var inputs = new double[e];
            for (int k = 0; k < n; k++)
            {
                double weight = cells[k], sign = Math.Sign(s.C[k]);
                if (weight == 0 || sign == 0) continue;
                // (3) the cell path f * c_{t-1} and the written-in part i * g share the cell's weight by their support.
                double path = Math.Max(s.F[k] * s.CPrev[k] * sign, 0), written = Math.Max(s.I[k] * s.G[k] * sign, 0);
                if (path + written <= 0) continue;
                prevCells[k] += weight * path / (path + written);
                double w = weight * written / (path + written);
                if (w == 0) continue;
                int row = gRows + k;
                scratch.Clear();
                for (int j = 0; j < e; j++) scratch.Add((j, d.W[row * e + j] * s.X[j] * sign));
                if (!options.CellPathOnly)
                    for (int j = 0; j < n; j++) scratch.Add((e + j, d.R[row * n + j] * s.HPrev[j] * sign));
                Distribute(scratch, share, w, (j, v) => { if (j < e) inputs[j] += v; else prevHidden[j - e] += v; });
            }
            if (s.ImagePart != null)
            {
                // (4) the image step: the FC rule through the image embedding to the feature.
                var img = d.ImageEmbedding!;
                for (int j = 0; j < e; j++)
                {
                    if (inputs[j] == 0) continue;
                    double sx = Math.Sign(s.X[j]);
                    scratch.Clear();
                    for (int m = 0; m < img.In; m++) scratch.Add((m, img.Weight[j * img.In + m] * feature[m] * sx));
                    Distribute(scratch, share, inputs[j], (m, v) => features[m] += v);
                }
            }
            else foreach (double v in inputs) wordShare += v; // a word's embedding carries no image
            if (t == 0)
            {
                if (d.InitialC != null) DistributeLinear(d.InitialC, prevCells, feature, features, share);
                if (d.InitialH != null) DistributeLinear(d.InitialH, prevHidden, feature, features, share);
                break;
            }
            for (int k = 0; k < n; k++) prevCells[k] += prevHidden[k]; // (2) again: h_{t-1} = o * tanh(c_{t-1})
            cells = prevCells;
        }
        // With contrast, what the competitors carry more of is not the word's evidence: the feature keeps the positive part.
        for (int m = 0; m < features.Length; m++) features[m] = Math.Max(features[m], 0);
        double imageShare = features.Sum();
        return new DecoderWeights(hidden, features, imageShare, wordShare);
    }

    /// <summary>(1) The hidden units' shares of a word's logit: <paramref name="weight"/> split over the positive W_out[w,k] h[k].</summary>
    private static double[] HiddenShares(LstmDecoder d, LstmStep top, int word, double share, double weight)
    {
        int n = d.Hidden;
        var scratch = new List<(int Index, double Contribution)>(n);
        for (int k = 0; k < n; k++) scratch.Add((k, d.Output.Weight[word * n + k] * top.H[k]));
        var hidden = new double[n];
        Distribute(scratch, share, weight, (k, v) => hidden[k] += v);
        return hidden;
    }


    private static void DistributeLinear(LinearLayer layer, double[] unitWeights, ReadOnlySpan<double> feature, double[] features, double share)
    {
        var values = layer.Apply(feature);
        var scratch = new List<(int, double)>();
        for (int k = 0; k < unitWeights.Length; k++)
        {
            if (unitWeights[k] == 0) continue;
            double sign = Math.Sign(values[k]);
            scratch.Clear();
            for (int m = 0; m < layer.In; m++) scratch.Add((m, layer.Weight[k * layer.In + m] * feature[m] * sign));
            Distribute(scratch, share, unitWeights[k], (m, v) => features[m] += v);
        }
    }

    /// <summary>Shares <paramref name="weight"/> among the supporting contributions that <see cref="Supporting"/> keeps, in proportion to their size.</summary>
    internal static void Distribute(List<(int Index, double Contribution)> contributions, double share, double weight, Action<int, double> add)
    {
        var kept = SupportingTerms(contributions, share).ToList();
        double total = 0;
        foreach (var (_, c) in kept) total += c;
        if (!(total > 0)) return;
        foreach (var (i, c) in kept) add(i, weight * c / total);
    }

    /// <summary>The FC rule through an initial-state layer: feature dims whose contribution supports the kept units' values.</summary>
    private static void AddLinear(LinearLayer layer, IEnumerable<int> units, ReadOnlySpan<double> feature, SortedSet<int> features, double share)
    {
        var values = layer.Apply(feature);
        var scratch = new List<(int, double)>();
        var chosen = new List<int>();
        foreach (int k in units)
        {
            double sign = Math.Sign(values[k]);
            scratch.Clear();
            for (int m = 0; m < layer.In; m++) scratch.Add((m, layer.Weight[k * layer.In + m] * feature[m] * sign));
            chosen.Clear();
            Supporting(scratch, share, chosen);
            features.UnionWith(chosen);
        }
    }

    /// <summary>
    /// The supporting (positive) contributions: all of them when <paramref name="share"/> is 1, else the
    /// largest ones (ties: lower index first) until their sum reaches that share of the positive total.
    /// </summary>
    internal static void Supporting(List<(int Index, double Contribution)> contributions, double share, List<int> chosen)
    {
        foreach (var (i, _) in SupportingTerms(contributions, share)) chosen.Add(i);
    }

    /// <summary>The terms <see cref="Supporting"/> keeps, with their contributions (index order for share 1, else largest first).</summary>
    private static IEnumerable<(int Index, double Contribution)> SupportingTerms(List<(int Index, double Contribution)> contributions, double share)
    {
        if (share >= 1) return contributions.Where(x => x.Contribution > 0);
        double total = 0;
        foreach (var (_, c) in contributions) if (c > 0) total += c;
        if (total <= 0) return Array.Empty<(int, double)>();
        var kept = new List<(int, double)>();
        double sum = 0;
        foreach (var (i, c) in contributions.Where(x => x.Contribution > 0).OrderByDescending(x => x.Contribution).ThenBy(x => x.Index))
        {
            kept.Add((i, c));
            sum += c;
            if (sum >= share * total) break;
        }
        return kept;
    }
}
