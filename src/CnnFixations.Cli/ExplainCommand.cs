using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations.Cli;

/// <summary><c>cnn-fixations explain</c>: predict, unravel, and write fixations, heat map, box and overlay.</summary>
internal static class ExplainCommand
{
    public const string BundledModelFile = "mobilenet_v2_1.0_224_quant.qdq.onnx";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var images = new Argument<string[]>("images") { Description = "Images to explain: files (PNG, JPEG, BMP, WebP, GIF), folders, or globs such as 'photos/**/*.jpg'.", Arity = ArgumentArity.ZeroOrMore };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Include the images in subfolders of folder arguments." };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Images processed at once (default: the number of cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var skipExisting = new Option<bool>("--skip-existing") { Description = "Skip images whose outputs already exist in --out (resume an interrupted run)." };
        var start = new Option<string?>("--start") { Description = "Walk from any tensor instead of the class logit: TENSOR (its most active neuron), TENSOR:c (every active position of channel c) or TENSOR:c,y,x (one neuron). 'cnn-fixations inspect' lists tensor names." };
        var method = new Option<string>("--method") { Description = "Explanation method: fixations (CNN Fixations), cam, gradcam, gradient, or all (one overlay per method plus <stem>.methods.png side by side). Baselines are boxed by thresholding their heat map at --box-threshold.", DefaultValueFactory = _ => "fixations" };
        method.AcceptOnlyFromAmong("fixations", "cam", "gradcam", "gradient", "all");
        var report = new Option<bool>("--report") { Description = "Also write report.html in --out: a self-contained page with one card per image (overlay, top-5, box, links), sortable and filterable." };
        var layers = new Option<bool>("--layers") { Description = "Also write the fixations of every layer, projected to the image through receptive-field centres: <stem>.layers/ and the contact sheet <stem>.layers.png." };
        var crops = new Option<string>("--crops") { Description = "Views of the image: 'whole' (resized to the input), 'center' (short side to input*256/224, centre crop), 'five' (the authors' protocol: short side 256, four corners + centre + mirrors, points of the agreeing crops pooled).", DefaultValueFactory = _ => "whole" };
        crops.AcceptOnlyFromAmong("whole", "center", "centre", "five");
        var mean = new Option<string?>("--mean") { Description = "Per-channel mean subtracted after scaling, 'r,g,b' or one value (overrides the preset)." };
        var std = new Option<string?>("--std") { Description = "Per-channel standard deviation divided by, 'r,g,b' or one value (overrides the preset)." };
        var scaleOpt = new Option<float?>("--scale") { Description = "Factor applied to 0..255 pixel values before the mean (overrides the preset; torchvision: 1/255)." };
        var bgr = new Option<bool>("--bgr") { Description = "Feed channels in BGR order (overrides the preset)." };
        var model = new Option<string?>("--model", "-m") { Description = $"ONNX image classifier. Default: the bundled MobileNetV2 (models/{BundledModelFile})." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for <stem>.overlay.png, <stem>.heatmap.png, <stem>.heatmap.npy and <stem>.json." };
        var json = new Option<string?>("--json") { Description = "Write the JSON document to FILE, or to standard output with '-'." };
        var cls = new Option<string?>("--class", "-c") { Description = "Explain this class (an output index or a label name) instead of the top-1 prediction." };
        var topK = new Option<int>("--top-k") { Description = "Explain each of the N best classes.", DefaultValueFactory = _ => 1 };
        var inputTensor = new Option<string?>("--input-tensor") { Description = "Explain a float32 [1,C,H,W] .npy tensor as the network input (no image decoding or preprocessing)." };
        var preset = new Option<string?>("--preset") { Description = "Preprocessing: torchvision (RGB, /255, ImageNet mean/std), caffe (BGR, minus 103.939/116.779/123.68), tf (x/127.5-1), raw (0..255). Default: raw for uint8 inputs, the model's metadata, raw when the graph normalizes its input itself, else torchvision." };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (line i names output i). Default: the file the model's metadata names." };
        var output = new Option<string?>("--output") { Description = "The tensor holding the class scores (any tensor of the graph); labels, arg-maxes and probabilities are followed back to the logits." };
        var sigma = new Option<double?>("--sigma") { Description = "Gaussian blur of the heat map, in original-image pixels (default: 30 with --rules weighted, 20 with --rules paper)." };
        var alpha = new Option<double>("--alpha") { Description = "Opacity of the heat map over the image in the overlay (0..1).", DefaultValueFactory = _ => 0.5 };
        var rules = new Option<string>("--rules") { Description = "The walk: 'weighted' (default: the target's contrastive evidence at the last feature map, shared down to the pixels by positive contribution) or 'paper' (the paper's literal rules: one input per neuron, points and outlier removal).", DefaultValueFactory = _ => "weighted" };
        rules.AcceptOnlyFromAmong("weighted", "paper");
        var contrast = new Option<string>("--contrast") { Description = "Weighted rules: explain the target logit minus the other classes' logits weighted by their probabilities ('softmax', default), minus their plain 'mean', or the target logit alone ('none').", DefaultValueFactory = _ => "softmax" };
        contrast.AcceptOnlyFromAmong("softmax", "mean", "none");
        var flatShare = new Option<double>("--flat-share") { Description = "Weighted rules: part (0..1) of each convolution neuron's weight shared evenly over its window; the rest goes by positive contribution.", DefaultValueFactory = _ => UnravelOptions.Default.FlatShare };
        var cellShare = new Option<double>("--cell-share") { Description = "Weighted rules: share (0..1) of the weight kept within the input cell of the last feature-map position it came from; the walk adds detail inside each cell.", DefaultValueFactory = _ => UnravelOptions.Default.CellShare };
        var pointMass = new Option<double>("--fixation-mass") { Description = "Weighted rules: the fixations (and points) reported are the heaviest input pixels that together hold this share (0..1] of the weight.", DefaultValueFactory = _ => UnravelOptions.Default.FixationMass };
        var box = new Option<string?>("--box") { Description = "Box: 'points' (tight box of the kept fixation points; the default of --rules paper) or 'threshold' (largest connected region of the heat map above --box-threshold; the default of --rules weighted)." };
        box.AcceptOnlyFromAmong("points", "threshold");
        var boxThreshold = new Option<double>("--box-threshold") { Description = "Fraction of the heat map's maximum for --box threshold.", DefaultValueFactory = _ => 0.5 };
        var outlierRadius = new Option<double>("--outlier-radius") { Description = "Outlier removal radius as a fraction of the image diagonal.", DefaultValueFactory = _ => 0.1 };
        var outlierFraction = new Option<double>("--outlier-fraction") { Description = "A point is kept when more than this fraction of all points lie within the radius.", DefaultValueFactory = _ => 0.05 };
        var fcAllPositive = new Option<bool>("--fc-all-positive") { Description = "At the first fully connected layer after the conv layers keep every positive contribution, not only the largest." };
        var convPosition = new Option<string>("--conv-position") { Description = "Where a Conv fixation lands in its window: 'centre' of the receptive field, or 'refine' (the largest single contribution).", DefaultValueFactory = _ => "centre" };
        convPosition.AcceptOnlyFromAmong("centre", "center", "refine");
        var bn = new Option<string>("--bn") { Description = "Rank a Conv followed by BatchNormalization with 'folded' weights (gamma/sigma) or 'raw' conv weights (the authors').", DefaultValueFactory = _ => "folded" };
        bn.AcceptOnlyFromAmong("folded", "raw");
        var globalPositive = new Option<bool>("--global-pool-all-positive") { Description = "At a global pooling keep every position with a positive activation, not only the maximum." };
        var maxPixels = new Option<long>("--max-pixels") { Description = "Refuse images larger than this many pixels (before decoding).", DefaultValueFactory = _ => ImageLoader.DefaultMaxPixels };
        var size = new Option<string?>("--size") { Description = "Input size HxW (or N for square) for a model whose input size is not fixed." };
        var layout = new Option<string?>("--layout") { Description = "The input's axis order, when detection is wrong: nchw (channel first) or nhwc (channel last). Default: NHWC when the input's last dimension is 1, 3 or 4 and it feeds a Transpose to channel-first, or the metadata says so." };
        layout.AcceptOnlyFromAmong("nchw", "nhwc");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var shard = new Option<string?>("--shard") { Description = "Do shard I of N (I from 0 to N-1) of the expanded image list: image k of the list goes to shard k mod N. Needs --out; 'cnn-fixations merge' joins the shards' outputs." };

        var command = new Command("explain", "Classify images and explain each decision by CNN Fixations. " +
            "With --out, writes <stem>.overlay.png, <stem>.heatmap.png, <stem>.heatmap.npy and <stem>.json per image (mirroring the input tree), " +
            "plus results.jsonl and results.csv for the whole run.")
        {
            images, model, outDir, json, cls, topK, inputTensor, preset, mean, std, scaleOpt, bgr, size, labels, output, recursive, jobs, skipExisting,
            start, layers, report, method, crops, layout, rules, contrast, flatShare, cellShare, pointMass, sigma, alpha, box, boxThreshold, outlierRadius, outlierFraction, fcAllPositive, convPosition, bn, globalPositive, maxPixels, quiet, shard,
        };

        command.SetAction(parse =>
        {
            var settings = new ExplainSettings
            {
                Images = parse.GetValue(images) ?? Array.Empty<string>(),
                Recursive = parse.GetValue(recursive),
                Jobs = parse.GetValue(jobs),
                SkipExisting = parse.GetValue(skipExisting),
                Start = parse.GetValue(start),
                Layers = parse.GetValue(layers),
                Report = parse.GetValue(report),
                Method = parse.GetValue(method) ?? "fixations",
                Crops = parse.GetValue(crops) switch { "five" => CropMode.Five, "center" or "centre" => CropMode.Center, _ => CropMode.Whole },
                Mean = parse.GetValue(mean),
                Std = parse.GetValue(std),
                Scale = parse.GetValue(scaleOpt),
                Bgr = parse.GetValue(bgr),
                Model = parse.GetValue(model),
                OutDir = parse.GetValue(outDir),
                Json = parse.GetValue(json),
                Class = parse.GetValue(cls),
                TopK = parse.GetValue(topK),
                TopKGiven = parse.GetResult(topK) is { Implicit: false },
                InputTensor = parse.GetValue(inputTensor),
                Preset = parse.GetValue(preset),
                Labels = parse.GetValue(labels),
                Output = parse.GetValue(output),
                Alpha = parse.GetValue(alpha),
                MaxPixels = parse.GetValue(maxPixels),
                Size = parse.GetValue(size),
                Layout = parse.GetValue(layout),
                Quiet = parse.GetValue(quiet),
                Shard = parse.GetValue(shard) is { } shardText ? Cli.Shard.Parse(shardText) : null,
                Unravel = new UnravelOptions
                {
                    Rules = parse.GetValue(rules) == "paper" ? RuleFamily.Paper : RuleFamily.Weighted,
                    Contrast = parse.GetValue(contrast) switch { "mean" => Contrast.Mean, "none" => Contrast.None, _ => Contrast.Softmax },
                    FlatShare = parse.GetValue(flatShare),
                    CellShare = parse.GetValue(cellShare),
                    FixationMass = parse.GetValue(pointMass),
                    FcSpatialAllPositive = parse.GetValue(fcAllPositive),
                    ConvPosition = parse.GetValue(convPosition) == "refine" ? ConvPosition.Refine : ConvPosition.Centre,
                    FoldBatchNorm = parse.GetValue(bn) != "raw",
                    GlobalPoolAllPositive = parse.GetValue(globalPositive),
                },
                Maps = new MapOptions
                {
                    Sigma = parse.GetValue(sigma) ?? (parse.GetValue(rules) == "paper" ? MapOptions.Default.Sigma : MapOptions.Weighted.Sigma),
                    Box = parse.GetValue(box) switch
                    {
                        "threshold" => BoxMode.Threshold,
                        "points" => BoxMode.Points,
                        _ => parse.GetValue(rules) == "paper" ? BoxMode.Points : BoxMode.Threshold,
                    },
                    BoxThreshold = parse.GetValue(boxThreshold),
                    OutlierRadius = parse.GetValue(outlierRadius),
                    OutlierFraction = parse.GetValue(outlierFraction),
                },
            };
            if (settings.Unravel.FlatShare is not (>= 0 and <= 1) || settings.Unravel.CellShare is not (>= 0 and <= 1) || settings.Unravel.FixationMass is not (> 0 and <= 1))
            {
                stderr.WriteLine("error: --flat-share and --cell-share must lie in 0..1 and --fixation-mass in (0, 1]");
                return 2;
            }
            return new ExplainRun(settings, stdout, stderr).Execute();
        });
        return command;
    }
}

internal sealed record ExplainSettings
{
    public string[] Images { get; init; } = Array.Empty<string>();
    public bool Recursive { get; init; }
    public int Jobs { get; init; } = Environment.ProcessorCount;
    public bool SkipExisting { get; init; }
    public string? Start { get; init; }
    public bool Layers { get; init; }
    public bool Report { get; init; }
    public string Method { get; init; } = "fixations";
    public CropMode Crops { get; init; } = CropMode.Whole;
    public string? Mean { get; init; }
    public string? Std { get; init; }
    public float? Scale { get; init; }
    public bool Bgr { get; init; }
    public string? Model { get; init; }
    public string? OutDir { get; init; }
    public string? Json { get; init; }
    public string? Class { get; init; }
    public int TopK { get; init; } = 1;
    public bool TopKGiven { get; init; }
    public string? InputTensor { get; init; }
    public string? Preset { get; init; }
    public string? Labels { get; init; }
    public string? Output { get; init; }
    public double Alpha { get; init; } = 0.5;
    public long MaxPixels { get; init; } = ImageLoader.DefaultMaxPixels;
    public string? Size { get; init; }
    public string? Layout { get; init; }
    public bool Quiet { get; init; }
    public Shard? Shard { get; init; }
    public UnravelOptions Unravel { get; init; } = UnravelOptions.Default;
    public MapOptions Maps { get; init; } = MapOptions.Default;
}

