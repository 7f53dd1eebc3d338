namespace CnnFixations.Unravel;

/// <summary>How a Conv picks the position inside the chosen channel's window (spec rule 2).</summary>
public enum ConvPosition
{
    /// <summary>The centre of the receptive field, clamped into the input (the spec's default).</summary>
    Centre,
    /// <summary>The tap with the largest single contribution in the window.</summary>
    Refine,
}

/// <summary>Which rules the walk follows.</summary>
public enum RuleFamily
{
    /// <summary>The weighted rules (docs/cnn-fixations.md, "Weighted rules"): a contrastive linear head, then positive-contribution shares.</summary>
    Weighted,
    /// <summary>The paper's literal rules (one input per neuron through convolutions, pooling and residual Adds).</summary>
    Paper,
}

/// <summary>What the weighted walk explains: the target logit alone, or contrasted with the other classes.</summary>
public enum Contrast
{
    /// <summary>The target logit minus the other logits weighted by their softmax probabilities (the log-probability's linear part: the classes the network weighs against the target).</summary>
    Softmax,
    /// <summary>The target logit minus the plain mean of the other logits.</summary>
    Mean,
    /// <summary>The target logit alone.</summary>
    None,
}

/// <summary>Weighted rules: how the input is divided into the cells of the head's grid (spec rule 3 of the weighted rules).</summary>
public enum CellGrid
{
    /// <summary>Each input row and column belongs to the head position whose receptive-field centre is nearest.</summary>
    Centres,
    /// <summary>Equal blocks: cell row i spans input rows [i * H / h, (i + 1) * H / h), a row straddling two blocks split by its overlap; columns alike (mirror-symmetric).</summary>
    Blocks,
    /// <summary>Soft equal blocks: each input row belongs to the two nearest block centres by linear interpolation (the weights of bilinear upsampling), so the map has no block edges; mirror-symmetric.</summary>
    Bilinear,
}

/// <summary>Weighted rules: what computes the walk below the head.</summary>
public enum WalkEngine
{
    /// <summary>
    /// ONNX Runtime runs the rules as ONNX nodes (<see cref="WeightedGraph"/>; the same shares, float rounding aside),
    /// falling back to <see cref="Managed"/> where a rule has no ONNX form or a value is not finite.
    /// </summary>
    Onnx,
    /// <summary>The project's own kernels (<see cref="IUnravelRule.Distribute"/>): a fixed order of sums, the same result on every machine and thread count.</summary>
    Managed,
}

/// <summary>The options of the walk. <see cref="Default"/> is the weighted walk; <see cref="Paper"/> the paper's literal rules.</summary>
public sealed record UnravelOptions
{
    public static readonly UnravelOptions Default = new();

    /// <summary>The paper's literal rules with the spec's defaults.</summary>
    public static readonly UnravelOptions Paper = new() { Rules = RuleFamily.Paper };

    /// <summary>Weighted (default) or the paper's literal rules.</summary>
    public RuleFamily Rules { get; init; } = RuleFamily.Weighted;

    /// <summary>Weighted rules: ONNX Runtime (default) or the managed kernels below the head (see <see cref="WalkEngine"/>).</summary>
    public WalkEngine WalkEngine { get; init; } = WalkEngine.Onnx;

    /// <summary>Weighted rules: what the target is contrasted with (see <see cref="Contrast"/>).</summary>
    public Contrast Contrast { get; init; } = Contrast.Softmax;

    /// <summary>
    /// Weighted rules with <see cref="Contrast.Softmax"/>: the share (0..1) of the contrast that goes by the
    /// other classes' probabilities; the rest is their plain mean.
    /// </summary>
    public double SoftmaxShare { get; init; } = 0.5;

    /// <summary>Weighted rules: the part of each Conv neuron's weight shared evenly over its in-bounds window (0..1); the rest goes by positive contribution.</summary>
    public double FlatShare { get; init; } = 0.5;

    /// <summary>
    /// Weighted rules: the share (0..1) of the weight that stays within the input cell of the head position it
    /// came from (the walk then only adds detail inside each cell); the rest goes where the walk takes it.
    /// </summary>
    public double CellShare { get; init; } = 1;

    /// <summary>Weighted rules: how the input is divided into cells (<see cref="CellGrid"/>).</summary>
    public CellGrid CellGrid { get; init; } = CellGrid.Bilinear;

    /// <summary>Weighted rules: the input fixations are the heaviest input pixels that together hold this share of the weight.</summary>
    public double FixationMass { get; init; } = 0.5;

    /// <summary>Rule 1: on a flattened spatial map keep every positive contribution instead of the argmax.</summary>
    public bool FcSpatialAllPositive { get; init; }

    /// <summary>Rule 2: where in the window the fixation lands.</summary>
    public ConvPosition ConvPosition { get; init; } = ConvPosition.Centre;

    /// <summary>Rule 2: rank a Conv followed by BatchNormalization with the BN-folded weights (false: raw conv weights, as the authors did).</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Rule 4: at a global pooling keep every position with a positive activation instead of the maximum.</summary>
    public bool GlobalPoolAllPositive { get; init; }
}
