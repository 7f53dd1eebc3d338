using System.CommandLine;
using System.Globalization;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Unravel;

namespace CnnFixations.Cli;

/// <summary>
/// The options that set how a method explains an image, shared by <c>explain</c> and <c>evaluate</c> so that both
/// build the same <see cref="UnravelOptions"/>, <see cref="MapOptions"/>, views and preprocessing from the same
/// flags: the unravel rules, the heat map and box, the crops and the preprocessing overrides. A new option for
/// the method goes here (definition, and a line in <see cref="Unravel"/> or <see cref="Maps"/>) and both commands get it.
/// </summary>
internal sealed class MethodOptions
{
    public Option<string> Crops { get; } = new("--crops") { Description = "Views of the image: 'whole' (resized to the input), 'center' (short side to input*256/224, centre crop), 'five' (the authors' protocol: short side 256, four corners + centre + mirrors, points of the agreeing crops pooled).", DefaultValueFactory = _ => "whole" };
    public Option<string?> Preset { get; } = new("--preset") { Description = "Preprocessing: torchvision (RGB, /255, ImageNet mean/std), caffe (BGR, minus 103.939/116.779/123.68), tf (x/127.5-1), raw (0..255). Default: raw for uint8 inputs, the model's metadata, raw when the graph normalizes its input itself, else torchvision." };
    public Option<string?> Mean { get; } = new("--mean") { Description = "Per-channel mean subtracted after scaling, 'r,g,b' or one value (overrides the preset)." };
    public Option<string?> Std { get; } = new("--std") { Description = "Per-channel standard deviation divided by, 'r,g,b' or one value (overrides the preset)." };
    public Option<float?> Scale { get; } = new("--scale") { Description = "Factor applied to 0..255 pixel values before the mean (overrides the preset; torchvision: 1/255)." };
    public Option<bool> Bgr { get; } = new("--bgr") { Description = "Feed channels in BGR order (overrides the preset)." };
    public Option<string?> Output { get; } = new("--output") { Description = "The tensor holding the class scores (any tensor of the graph); labels, arg-maxes and probabilities are followed back to the logits." };
    public Option<double?> Sigma { get; } = new("--sigma") { Description = $"Gaussian blur of the heat map, in original-image pixels (default: {MapOptions.Default.Sigma} for --rules paper; for the weighted rules {MapOptions.Weighted.Sigma} network-input pixels scaled to the image, about 4.5 px on a 500-px photo at 224: the fine part of a two-scale map, see --coarse-share)." };
    public Option<double?> CoarseShare { get; } = new("--coarse-share") { Description = $"Weighted rules: share (0..1) of the heat map that is a second, coarse blur of the same weights (--coarse-sigma); the rest is the --sigma blur (default {MapOptions.Weighted.CoarseShare}; 0: one blur)." };
    public Option<string> Borders { get; } = new("--borders") { Description = "Weighted rules: the heat map near the image borders: 'fade' (default: the plain Gaussian blurs, which lose the part of the blur that falls outside the image, so weight within about 3 sigma of a border is dimmed) or 'even' (each blur divided by the share of its Gaussian inside the image: an even weight gives an even map up to the edges, as CAM and Grad-CAM's upsampling does).", DefaultValueFactory = _ => "fade" };
    public Option<double?> ExtentFloor { get; } = new("--extent-floor") { Description = $"Weighted rules with a coarse blur: the heat map is raised to at least this fraction (from 0, off, to below 1) of the coarse blur made even at the borders, so that the object's extent reaches the image's edges as CAM's does; the fine peaks above it, the maximum and the box stay (default {MapOptions.Weighted.ExtentFloor})." };
    public Option<double?> CoarseSigma { get; } = new("--coarse-sigma") { Description = $"Weighted rules: Gaussian blur of the coarse part of the heat map, in network-input pixels, scaled to the image (default {MapOptions.Weighted.CoarseSigma})." };
    public Option<string> Rules { get; } = new("--rules") { Description = "The walk: 'weighted' (default: the target's contrastive evidence at the last feature map, shared down to the pixels by positive contribution) or 'paper' (the paper's literal rules: one input per neuron, points and outlier removal).", DefaultValueFactory = _ => "weighted" };
    public Option<string> WalkEngine { get; } = new("--walk-engine") { Description = "Weighted rules: what runs the walk below the class scores: 'onnx' (default: ONNX Runtime runs the rules as graph nodes, about 10x faster on large networks; where a rule has no graph form or a value is not finite the managed kernels run instead) or 'managed' (the tool's own kernels: sums in a fixed order, the same weights on every machine and thread count; the two agree to about 1e-4 of the largest weight).", DefaultValueFactory = _ => "onnx" };
    public Option<string> Contrast { get; } = new("--contrast") { Description = "Weighted rules: explain the target logit minus the other classes' logits, weighted half by their probabilities and half evenly ('softmax', default; see --softmax-share), minus their plain 'mean', or the target logit alone ('none').", DefaultValueFactory = _ => "softmax" };
    public Option<double> SoftmaxShare { get; } = new("--softmax-share") { Description = "Weighted rules with --contrast softmax: the part (0..1) of the contrast that goes by the other classes' probabilities; the rest is their plain mean.", DefaultValueFactory = _ => UnravelOptions.Default.SoftmaxShare };
    public Option<double> FlatShare { get; } = new("--flat-share") { Description = "Weighted rules: part (0..1) of each convolution neuron's weight shared evenly over its window; the rest goes by positive contribution.", DefaultValueFactory = _ => UnravelOptions.Default.FlatShare };
    public Option<double> CellShare { get; } = new("--cell-share") { Description = "Weighted rules: share (0..1) of the weight kept within the input cell of the last feature-map position it came from; the walk adds detail inside each cell.", DefaultValueFactory = _ => UnravelOptions.Default.CellShare };
    public Option<string> Cells { get; } = new("--cells") { Description = "Weighted rules: the input cells of the last feature map's positions: 'bilinear' (equal blocks with soft edges: each pixel shared between the two nearest block centres, as bilinear upsampling does), 'blocks' (equal blocks of the input) or 'centres' (each pixel to the position whose receptive-field centre is nearest; follows the network's padding, which may be one-sided).", DefaultValueFactory = _ => UnravelOptions.Default.CellGrid.ToString().ToLowerInvariant() };
    public Option<double> FixationMass { get; } = new("--fixation-mass") { Description = "Weighted rules: the fixations (and points) reported are the heaviest input pixels that together hold this share (0..1] of the weight.", DefaultValueFactory = _ => UnravelOptions.Default.FixationMass };
    public Option<string?> Box { get; } = new("--box") { Description = "Box: 'points' (tight box of the kept fixation points; the default of --rules paper) or 'threshold' (largest connected region above --box-threshold of the maximum of the heat map, or of its coarse blur when --coarse-share is above 0; the default of --rules weighted)." };
    public Option<double> BoxThreshold { get; } = new("--box-threshold") { Description = "Fraction of the heat map's maximum for --box threshold.", DefaultValueFactory = _ => 0.5 };
    public Option<double> OutlierRadius { get; } = new("--outlier-radius") { Description = "Outlier removal radius as a fraction of the image diagonal.", DefaultValueFactory = _ => 0.1 };
    public Option<double> OutlierFraction { get; } = new("--outlier-fraction") { Description = "A point is kept when more than this fraction of all points lie within the radius.", DefaultValueFactory = _ => 0.05 };
    public Option<bool> FcAllPositive { get; } = new("--fc-all-positive") { Description = "At the first fully connected layer after the conv layers keep every positive contribution, not only the largest." };
    public Option<string> ConvPosition { get; } = new("--conv-position") { Description = "Where a Conv fixation lands in its window: 'centre' of the receptive field, or 'refine' (the largest single contribution).", DefaultValueFactory = _ => "centre" };
    public Option<string> Bn { get; } = new("--bn") { Description = "Rank a Conv followed by BatchNormalization with 'folded' weights (gamma/sigma) or 'raw' conv weights (the authors').", DefaultValueFactory = _ => "folded" };
    public Option<bool> GlobalPoolAllPositive { get; } = new("--global-pool-all-positive") { Description = "At a global pooling keep every position with a positive activation, not only the maximum." };
    public Option<long> MaxPixels { get; } = new("--max-pixels") { Description = "Refuse images larger than this many pixels (before decoding).", DefaultValueFactory = _ => ImageLoader.DefaultMaxPixels };

    public MethodOptions()
    {
        Crops.AcceptOnlyFromAmong("whole", "center", "centre", "five");
        Rules.AcceptOnlyFromAmong("weighted", "paper");
        WalkEngine.AcceptOnlyFromAmong("onnx", "managed");
        Contrast.AcceptOnlyFromAmong("softmax", "mean", "none");
        Box.AcceptOnlyFromAmong("points", "threshold");
        ConvPosition.AcceptOnlyFromAmong("centre", "center", "refine");
        Bn.AcceptOnlyFromAmong("folded", "raw");
        Cells.AcceptOnlyFromAmong("bilinear", "blocks", "centres", "centers");
        Borders.AcceptOnlyFromAmong("fade", "even");
    }

    public IEnumerable<Option> All => new Option[]
    {
        Preset, Mean, Std, Scale, Bgr, Output, Crops, Rules, WalkEngine, Contrast, SoftmaxShare, FlatShare, CellShare, Cells, FixationMass, Sigma, CoarseShare, CoarseSigma, Borders, ExtentFloor, Box, BoxThreshold, OutlierRadius, OutlierFraction,
        FcAllPositive, ConvPosition, Bn, GlobalPoolAllPositive, MaxPixels,
    };

    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    /// <summary>The walk's options, as <c>explain</c> passes them to the <see cref="Explainer"/>.</summary>
    public UnravelOptions Unravel(ParseResult parse) => new()
    {
        Rules = parse.GetValue(Rules) == "paper" ? RuleFamily.Paper : RuleFamily.Weighted,
        WalkEngine = parse.GetValue(WalkEngine) == "managed" ? CnnFixations.Unravel.WalkEngine.Managed : CnnFixations.Unravel.WalkEngine.Onnx,
        Contrast = parse.GetValue(Contrast) switch { "mean" => CnnFixations.Unravel.Contrast.Mean, "none" => CnnFixations.Unravel.Contrast.None, _ => CnnFixations.Unravel.Contrast.Softmax },
        SoftmaxShare = parse.GetValue(SoftmaxShare),
        FlatShare = parse.GetValue(FlatShare),
        CellShare = parse.GetValue(CellShare),
        CellGrid = parse.GetValue(Cells) switch { "bilinear" => CellGrid.Bilinear, "blocks" => CellGrid.Blocks, _ => CellGrid.Centres },
        FixationMass = parse.GetValue(FixationMass),
        FcSpatialAllPositive = parse.GetValue(FcAllPositive),
        ConvPosition = parse.GetValue(ConvPosition) == "refine" ? CnnFixations.Unravel.ConvPosition.Refine : CnnFixations.Unravel.ConvPosition.Centre,
        FoldBatchNorm = parse.GetValue(Bn) != "raw",
        GlobalPoolAllPositive = parse.GetValue(GlobalPoolAllPositive),
    };

    /// <summary>The heat-map and box options.</summary>
    public MapOptions Maps(ParseResult parse) => new()
    {
        Sigma = parse.GetValue(Sigma) ?? (parse.GetValue(Rules) == "paper" ? MapOptions.Default.Sigma : MapOptions.Weighted.Sigma),
        SigmaInInputPixels = parse.GetValue(Sigma) == null && parse.GetValue(Rules) != "paper" && MapOptions.Weighted.SigmaInInputPixels,
        CoarseShare = parse.GetValue(CoarseShare) ?? (parse.GetValue(Rules) == "paper" ? 0 : MapOptions.Weighted.CoarseShare),
        CoarseSigma = parse.GetValue(CoarseSigma) ?? MapOptions.Weighted.CoarseSigma,
        EvenAtBorders = parse.GetValue(Borders) == "even",
        ExtentFloor = parse.GetValue(ExtentFloor) ?? (parse.GetValue(Rules) == "paper" ? 0 : MapOptions.Weighted.ExtentFloor),
        Box = parse.GetValue(Box) switch
        {
            "threshold" => BoxMode.Threshold,
            "points" => BoxMode.Points,
            _ => parse.GetValue(Rules) == "paper" ? BoxMode.Points : BoxMode.Threshold,
        },
        BoxThreshold = parse.GetValue(BoxThreshold),
        OutlierRadius = parse.GetValue(OutlierRadius),
        OutlierFraction = parse.GetValue(OutlierFraction),
    };

    public CropMode Views(ParseResult parse) =>
        parse.GetValue(Crops) switch { "five" => CropMode.Five, "center" or "centre" => CropMode.Center, _ => CropMode.Whole };

    /// <summary>Usage errors for walk and map options out of range.</summary>
    public static void Validate(UnravelOptions unravel, MapOptions maps)
    {
        if (unravel.FlatShare is not (>= 0 and <= 1) || unravel.CellShare is not (>= 0 and <= 1) || unravel.SoftmaxShare is not (>= 0 and <= 1) || unravel.FixationMass is not (> 0 and <= 1))
            throw new UsageException("--flat-share, --cell-share and --softmax-share must lie in 0..1 and --fixation-mass in (0, 1]");
        if (!(maps.Sigma > 0) || maps.Sigma > 10000) throw new UsageException("--sigma must be a positive number of pixels (at most 10000)");
        if (!(maps.CoarseShare >= 0 && maps.CoarseShare <= 1)) throw new UsageException("--coarse-share must lie in 0..1");
        if (!(maps.ExtentFloor >= 0 && maps.ExtentFloor < 1)) throw new UsageException("--extent-floor must lie in [0, 1)");
        if (!(maps.CoarseSigma > 0) || maps.CoarseSigma > 10000) throw new UsageException("--coarse-sigma must be a positive number of pixels (at most 10000)");
        if (!(maps.BoxThreshold > 0) || maps.BoxThreshold > 1) throw new UsageException("--box-threshold must be in (0, 1]");
        if (!(maps.OutlierRadius >= 0)) throw new UsageException("--outlier-radius must be 0 or more");
        if (!(maps.OutlierFraction >= 0) || maps.OutlierFraction >= 1) throw new UsageException("--outlier-fraction must be in [0, 1)");
    }

    /// <summary>The preset (or the model's metadata, else torchvision) adjusted by --mean, --std, --scale and --bgr.</summary>
    public static Preprocessing ChoosePreprocessing(Onnx.OnnxModel model, string? preset, string? mean, string? std, float? scale, bool bgr)
    {
        var p = ModelDefaults.Preprocessing(model, preset);
        if (mean == null && std == null && scale == null && !bgr) return p;
        return p with
        {
            Name = p.Name + " (adjusted)",
            Mean = mean != null ? ParseTriple("--mean", mean) : p.Mean,
            Std = std != null ? ParseTriple("--std", std, positive: true) : p.Std,
            Scale = scale ?? p.Scale,
            Bgr = bgr || p.Bgr,
        };
    }

    /// <summary>One or three numbers ('r,g,b'), as --mean and --std take them; one value stands for all three.</summary>
    internal static float[] ParseTriple(string option, string text, bool positive = false)
    {
        var parts = text.Split(',');
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]) || (positive && values[i] <= 0))
                throw new UsageException($"{option} '{text}' is not one or three {(positive ? "positive " : "")}numbers such as 0.485,0.456,0.406");
        if (values.Length == 1) return new[] { values[0], values[0], values[0] };
        if (values.Length != 3) throw new UsageException($"{option} '{text}' needs one or three values");
        return values;
    }
}
