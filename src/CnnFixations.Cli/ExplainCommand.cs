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
    public const string BundledModelFile = ModelConventions.BundledModelFile;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var images = new Argument<string[]>("images") { Description = "Images to explain: files (PNG, JPEG, BMP, WebP, GIF), folders, or globs such as 'photos/**/*.jpg'.", Arity = ArgumentArity.ZeroOrMore };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Include the images in subfolders of folder arguments." };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Images processed at once (default: the number of cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var skipExisting = new Option<bool>("--skip-existing") { Description = "Skip images whose outputs already exist in --out (resume an interrupted run)." };
        var start = new Option<string?>("--start") { Description = "Walk from any tensor instead of the class logit: TENSOR (its most active neuron), TENSOR:c (every active position of channel c) or TENSOR:c,y,x (one neuron). 'cnn-fixations inspect' lists tensor names." };
        string methodList = string.Join(", ", ExplanationMethods.ExplainNames.Select(n => n == ExplanationMethods.Fixations ? n + " (CNN Fixations)" : n));
        var method = new Option<string>("--method") { Description = $"Explanation method: {methodList}, or all (one overlay per method plus <stem>.methods.png side by side). Baselines are boxed by thresholding their heat map at --box-threshold.", DefaultValueFactory = _ => ExplanationMethods.Fixations };
        method.AcceptOnlyFromAmong(ExplanationMethods.ExplainNames.Append("all").ToArray());
        var report = new Option<bool>("--report") { Description = "Also write report.html in --out: a page with one card per image (overlay, or the methods sheet with --method all; top-5, box, links), sortable and filterable. It links the pictures in --out: move the folder as a whole." };
        var layers = new Option<bool>("--layers") { Description = "Also write the fixations of every layer, projected to the image through receptive-field centres: <stem>.layers/ and the contact sheet <stem>.layers.png." };
        var model = new Option<string?>("--model", "-m") { Description = $"ONNX image classifier. Default: the bundled MobileNetV2 (models/{BundledModelFile})." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for <stem>.overlay.png, <stem>.heatmap.png, <stem>.heatmap.npy and <stem>.json." };
        var json = new Option<string?>("--json") { Description = "Write the JSON document to FILE, or to standard output with '-'." };
        var cls = new Option<string?>("--class", "-c") { Description = "Explain this class (an output index or a label name) instead of the top-1 prediction." };
        var topK = new Option<int>("--top-k") { Description = "Explain each of the N best classes.", DefaultValueFactory = _ => 1 };
        var inputTensor = new Option<string?>("--input-tensor") { Description = "Explain a float32 [1,C,H,W] .npy tensor as the network input (no image decoding or preprocessing)." };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (line i names output i). Default: the file the model's metadata names." };
        var alpha = new Option<double>("--alpha") { Description = "Opacity of the heat map over the image in the overlay (0..1).", DefaultValueFactory = _ => 0.5 };
        var colormap = new Option<string>("--colormap") { Description = "Colour scale of the heat map in the overlays: jet, turbo or viridis (perceptually ordered).", DefaultValueFactory = _ => "jet" };
        colormap.AcceptOnlyFromAmong("jet", "turbo", "viridis");
        var size = new Option<string?>("--size") { Description = "Input size HxW (or N for square) for a model whose input size is not fixed." };
        var layout = new Option<string?>("--layout") { Description = "The input's axis order, when detection is wrong: nchw (channel first) or nhwc (channel last). Default: NHWC when the input's last dimension is 1, 3 or 4 and it feeds a Transpose to channel-first, or the metadata says so." };
        layout.AcceptOnlyFromAmong("nchw", "nhwc");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var shard = new Option<string?>("--shard") { Description = "Do shard I of N (I from 0 to N-1) of the expanded image list: image k of the list goes to shard k mod N. Needs --out; 'cnn-fixations merge' joins the shards' outputs." };
        var shared = new MethodOptions();

        var command = new Command("explain", "Classify images and explain each decision by CNN Fixations. " +
            "With --out, writes <stem>.overlay.png, <stem>.heatmap.png, <stem>.heatmap.npy and <stem>.json per image (mirroring the input tree), " +
            "plus results.jsonl and results.csv for the whole run.")
        {
            images, model, outDir, json, cls, topK, inputTensor, size, labels, recursive, jobs, skipExisting,
            start, layers, report, method, alpha, colormap, layout, quiet, shard,
        };
        shared.AddTo(command);

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
                Method = parse.GetValue(method) ?? ExplanationMethods.Fixations,
                Crops = shared.Views(parse),
                Mean = parse.GetValue(shared.Mean),
                Std = parse.GetValue(shared.Std),
                Scale = parse.GetValue(shared.Scale),
                Bgr = parse.GetValue(shared.Bgr),
                Model = parse.GetValue(model),
                OutDir = parse.GetValue(outDir),
                Json = parse.GetValue(json),
                Class = parse.GetValue(cls),
                TopK = parse.GetValue(topK),
                TopKGiven = parse.GetResult(topK) is { Implicit: false },
                InputTensor = parse.GetValue(inputTensor),
                Preset = parse.GetValue(shared.Preset),
                Labels = parse.GetValue(labels),
                Output = parse.GetValue(shared.Output),
                Alpha = parse.GetValue(alpha),
                Colormap = CnnFixations.Maps.Colormap.Parse(parse.GetValue(colormap) ?? "jet") ?? CnnFixations.Maps.ColormapKind.Jet,
                MaxPixels = parse.GetValue(shared.MaxPixels),
                Size = parse.GetValue(size),
                Layout = parse.GetValue(layout),
                Quiet = parse.GetValue(quiet),
                Shard = parse.GetValue(shard) is { } shardText ? Cli.Shard.Parse(shardText) : null,
                Unravel = shared.Unravel(parse),
                Maps = shared.Maps(parse),
            };
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
    public string Method { get; init; } = ExplanationMethods.Fixations;
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
    public CnnFixations.Maps.ColormapKind Colormap { get; init; } = CnnFixations.Maps.ColormapKind.Jet;
    public long MaxPixels { get; init; } = ImageLoader.DefaultMaxPixels;
    public string? Size { get; init; }
    public string? Layout { get; init; }
    public bool Quiet { get; init; }
    public Shard? Shard { get; init; }
    public UnravelOptions Unravel { get; init; } = UnravelOptions.Default;
    public MapOptions Maps { get; init; } = MapOptions.Default;
}

