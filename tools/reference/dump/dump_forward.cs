#:project ../../../src/CnnFixations/CnnFixations.csproj
// Writes what the product's forward pass (ONNX Runtime, as `explain` runs it) gives for one input,
// so that the reference can be fed the same tensors:
//   dotnet run tools/reference/dump/dump_forward.cs -- MODEL (IMAGE | TENSOR.npy) OUTDIR
// OUTDIR/input.npy        the network input (an image goes through the model's own preprocessing,
//                         whole image resized to the input size, as `explain` does by default)
// OUTDIR/<k>.npy          every tensor the paper walk reads, in the order of OUTDIR/index.json
// OUTDIR/index.json       {"tensors": {name: "<k>.npy"}, "model", "image"}
using System.Text.Json;
using CnnFixations;
using CnnFixations.Imaging;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

if (args.Length != 3) { Console.Error.WriteLine("usage: dump_forward.cs MODEL (IMAGE | TENSOR.npy) OUTDIR"); return 2; }
var model = OnnxModel.Load(args[0]);
// The refine option reads a superset of what the centre rule reads (also the depthwise inputs).
using var explainer = new Explainer(model, new UnravelOptions { Rules = RuleFamily.Paper, ConvPosition = ConvPosition.Refine });
TensorValue input;
if (args[1].EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
    input = ExplanationInput.FromNpy(args[1]).Tensor;
else
{
    var pre = Preprocessing.FromMetadata(explainer.Model.Metadata) ?? Preprocessing.Torchvision;
    var shape = explainer.Model.FixedInputShape() ?? throw new Exception("input size not fixed");
    input = ExplanationInput.FromImage(args[1], pre, shape[2], shape[3]).Tensor;
}
Directory.CreateDirectory(args[2]);
using var values = explainer.Forward(input);
var index = new Dictionary<string, string>();
int k = 0;
foreach (var (name, value) in values.OrderBy(p => p.Key, StringComparer.Ordinal))
{
    string file = name == explainer.Model.InputName ? "input.npy" : $"{k++}.npy";
    using (var s = File.Create(Path.Combine(args[2], file))) NpyFile.WriteFloat32(s, value.Shape, value.Data);
    index[name] = file;
}
using (var s = File.Create(Path.Combine(args[2], "index.json")))
using (var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true }))
{
    w.WriteStartObject();
    w.WriteString("model", args[0]);
    w.WriteString("input", args[1]);
    w.WriteStartObject("tensors");
    foreach (var (name, file) in index) w.WriteString(name, file);
    w.WriteEndObject();
    w.WriteEndObject();
}
Console.WriteLine($"{index.Count} tensors in {args[2]}");
return 0;
