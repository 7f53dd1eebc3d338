using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CnnFixations.Onnx;
using Spectre.Console;

namespace CnnFixations.Cli;

/// <summary><c>cnn-fixations inspect MODEL</c>: the graph as the walk sees it; exit code 1 when an op on the walk has no rule.</summary>
internal static class InspectCommand
{
    private static readonly string[] MetadataKeys = { "mean", "std", "color_order", "preprocessing", "input_size", "labels", "label_offset", "num_classes" };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model to inspect." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var size = new Option<string?>("--size") { Description = "Input size HxW for shape inference when the model's is not fixed." };
        var command = new Command("inspect", "List the model's nodes with their output shapes and the unravel rule that handles each, and the ops no rule handles.")
        {
            model, json, size,
        };
        command.SetAction(parse =>
        {
            var m = OnnxModel.Load(parse.GetValue(model)!);
            int[]? inputShape = null;
            if (parse.GetValue(size) is { } text)
            {
                var parts = text.ToLowerInvariant().Split('x');
                if (parts.Length is not (1 or 2) || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 && v <= 16384))
                    throw new UsageException($"--size '{text}' is not HxW or N");
                int c = m.InputShape.Length == 4 && m.InputShape[1] > 0 ? m.InputShape[1] : 3;
                inputShape = new[] { 1, c, int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture) };
            }
            var report = ModelInspection.Inspect(m, inputShape);
            if (parse.GetValue(json)) WriteJson(stdout, report);
            else WriteTable(stdout, report);
            return report.Unhandled.Any() ? CliApp.Failure : CliApp.Ok;
        });
        return command;
    }

    private static string ShapeText(int[]? shape) => shape == null ? "?" : Shapes.Format(shape);

    private static void WriteTable(TextWriter stdout, ModelInspection report)
    {
        var m = report.Model;
        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        if (interactive)
        {
            var table = new Table().AddColumns("#", "node", "op", "output", "shape", "rule", "role");
            foreach (var n in report.Nodes)
                table.AddRow(n.Index.ToString(CultureInfo.InvariantCulture), Markup.Escape(n.Name), Markup.Escape(Op(n)), Markup.Escape(string.Join(" ", n.Outputs)),
                    ShapeText(n.Shape), n.Rule ?? "-", n.Role == NodeRole.Unhandled ? "[red]UNHANDLED[/]" : n.Role.ToString().ToLowerInvariant());
            AnsiConsole.Write(table);
        }
        else
        {
            stdout.WriteLine("#\tnode\top\toutput\tshape\trule\trole");
            foreach (var n in report.Nodes)
                stdout.WriteLine($"{n.Index}\t{n.Name}\t{Op(n)}\t{string.Join(" ", n.Outputs)}\t{ShapeText(n.Shape)}\t{n.Rule ?? "-"}\t{(n.Role == NodeRole.Unhandled ? "UNHANDLED" : n.Role.ToString().ToLowerInvariant())}");
        }
        stdout.WriteLine();
        stdout.WriteLine($"model:          {m.Path} (sha256 {m.Sha256[..16]}..., opset {m.OpsetVersion})");
        stdout.WriteLine($"input:          {m.InputName} {Shapes.Format(m.InputShape)}{(m.InputShape.Any(d => d <= 0) ? " (not fixed: give --size to explain)" : "")}");
        stdout.WriteLine($"logits:         {report.LogitsTensor} ({(report.ClassCount > 0 ? report.ClassCount.ToString(CultureInfo.InvariantCulture) : "?")} classes)");
        var meta = MetadataKeys.Where(m.Metadata.ContainsKey).Select(k => $"{k}={m.Metadata[k]}").ToList();
        stdout.WriteLine($"preprocessing:  {(meta.Count > 0 ? string.Join(", ", meta) : "no metadata: torchvision assumed (override with --preset)")}");
        stdout.WriteLine($"ops:            {string.Join(", ", report.Nodes.GroupBy(Op).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"))}");
        var unhandled = report.Unhandled.ToList();
        stdout.WriteLine(unhandled.Count == 0
            ? "unhandled:      none: every op the walk can reach has a rule"
            : $"unhandled:      {string.Join(", ", unhandled.Select(n => $"{Op(n)} ('{n.Name}')"))}: explaining this model stops there");
    }

    private static string Op(NodeReport n) => n.Domain.Length == 0 || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}";

    private static void WriteJson(TextWriter stdout, ModelInspection report)
    {
        var m = report.Model;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", m.Path);
            w.WriteString("sha256", m.Sha256);
            w.WriteString("input", m.InputName);
            w.WriteStartArray("inputShape"); foreach (int d in m.InputShape) w.WriteNumberValue(d); w.WriteEndArray();
            w.WriteString("logits", report.LogitsTensor);
            w.WriteNumber("classes", report.ClassCount);
            w.WriteStartObject("metadata");
            foreach (var k in MetadataKeys.Where(m.Metadata.ContainsKey)) w.WriteString(k, m.Metadata[k]);
            w.WriteEndObject();
            w.WriteStartArray("nodes");
            foreach (var n in report.Nodes)
            {
                w.WriteStartObject();
                w.WriteNumber("index", n.Index);
                w.WriteString("name", n.Name);
                w.WriteString("op", Op(n));
                w.WriteStartArray("outputs"); foreach (var o in n.Outputs) w.WriteStringValue(o); w.WriteEndArray();
                if (n.Shape == null) w.WriteNull("shape"); else { w.WriteStartArray("shape"); foreach (int d in n.Shape) w.WriteNumberValue(d); w.WriteEndArray(); }
                if (n.Rule == null) w.WriteNull("rule"); else w.WriteString("rule", n.Rule);
                w.WriteString("role", n.Role.ToString().ToLowerInvariant());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("unhandled");
            foreach (var n in report.Unhandled) w.WriteStringValue($"{Op(n)} ('{n.Name}')");
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
