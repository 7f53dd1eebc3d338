using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CnnFixations;
using CnnFixations.Bench;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;

// Ratio benchmark of CNN Fixations against the plain forward pass, one model per child process
// (so peak memory is the model's own); every figure of a model comes from that one process.
//   dotnet run -c Release --project bench/CnnFixations.Bench -- --models DIR --json FILE [--iterations N]
if (args.Length is 2 or 3 or 4 && args[0] == "--batch")
{
    // dotnet run -c Release --project bench/CnnFixations.Bench -- --batch FOLDER [COUNT [MODEL]]   (default: the bundled model)
    BatchBench.Run(args.Length > 3 ? args[3] : BenchArguments.Parse(Array.Empty<string>()).BundledModel, args[1],
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 0);
    return 0;
}
if (args.Length == 2 && args[0] == "--gradient")
{
    Micro.Gradient(args[1]);
    return 0;
}
if (args.Length == 2 && args[0] == "--outputs")
{
    Micro.Outputs(args[1]);
    return 0;
}
if (args.Length == 2 && args[0] == "--load")
{
    Micro.Load(args[1]);
    return 0;
}
if (args.Length == 1 && args[0] == "--micro")
{
    Micro.Run();
    return 0;
}
if (args.Length >= 2 && args[0] == "--profile")
{
    // dotnet run -c Release --project bench/CnnFixations.Bench -- --profile MODEL [N]: where one walk spends its time
    if (Environment.GetEnvironmentVariable("CNNFX_MINWORK") is { } minWork) CnnFixations.Unravel.Rules.ParallelChunks.MinWork = long.Parse(minWork, CultureInfo.InvariantCulture);
    ModelBench.Profile(args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10);
    return 0;
}
var arguments = BenchArguments.Parse(args);
if (arguments.SingleModel != null)
{
    var figures = ModelBench.Run(arguments.SingleModel, arguments.Iterations, arguments.Image);
    Console.WriteLine(JsonSerializer.Serialize(figures));
    return 0;
}

var models = new List<string> { arguments.BundledModel };
if (arguments.ModelsDir != null)
{
    if (!Directory.Exists(arguments.ModelsDir)) { Console.Error.WriteLine($"error: models folder '{arguments.ModelsDir}' not found"); return 1; }
    models.AddRange(Directory.GetFiles(arguments.ModelsDir, "*.onnx").OrderBy(f => new FileInfo(f).Length));
}

var results = new SortedDictionary<string, ModelFigures>(StringComparer.Ordinal);
foreach (var model in models)
{
    Console.Error.WriteLine($"measuring {Path.GetFileName(model)} ...");
    var child = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
    child.ArgumentList.Add(typeof(ModelBench).Assembly.Location);
    foreach (var a in new[] { "--single", model, "--iterations", arguments.Iterations.ToString(CultureInfo.InvariantCulture), "--image", arguments.Image }) child.ArgumentList.Add(a);
    using var p = Process.Start(child)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) { Console.Error.WriteLine($"  failed (exit {p.ExitCode})"); continue; }
    var figures = JsonSerializer.Deserialize<ModelFigures>(output.Trim().Split('\n')[^1])!;
    results[Path.GetFileNameWithoutExtension(model)] = figures;
}

Console.WriteLine(Report.Table(results));
if (arguments.Json != null)
{
    var doc = new Dictionary<string, object> { ["machine"] = Report.Machine(), ["models"] = results.ToDictionary(r => r.Key, r => r.Value.ToJsonFigures()) };
    File.WriteAllText(arguments.Json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
return 0;
