namespace CnnFixations.Unravel;

/// <summary>How a Conv picks the position inside the chosen channel's window (spec rule 2).</summary>
public enum ConvPosition
{
    /// <summary>The centre of the receptive field, clamped into the input (the spec's default).</summary>
    Centre,
    /// <summary>The tap with the largest single contribution in the window.</summary>
    Refine,
}

/// <summary>The spec's options for the walk; the defaults are the spec's behaviour.</summary>
public sealed record UnravelOptions
{
    public static readonly UnravelOptions Default = new();

    /// <summary>Rule 1: on a flattened spatial map keep every positive contribution instead of the argmax.</summary>
    public bool FcSpatialAllPositive { get; init; }

    /// <summary>Rule 2: where in the window the fixation lands.</summary>
    public ConvPosition ConvPosition { get; init; } = ConvPosition.Centre;

    /// <summary>Rule 2: rank a Conv followed by BatchNormalization with the BN-folded weights (false: raw conv weights, as the authors did).</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Rule 4: at a global pooling keep every position with a positive activation instead of the maximum.</summary>
    public bool GlobalPoolAllPositive { get; init; }
}
