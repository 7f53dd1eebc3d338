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
        var layout = new Option<string?>("--layout") { Description = "The input's axis order when detection is wrong: nchw or nhwc." };
        layout.AcceptOnlyFromAmong("nchw", "nhwc");
        var output = new Option<string?>("--output") { Description = "The tensor holding the class scores (as explain's --output)." };
        var preset = new Option<string?>("--preset") { Description = "The preprocessing preset explain would be given (torchvision, caffe, tf, raw)." };
        var command = new Command("inspect", "List the model's nodes with their output shapes and the unravel rule that handles each, and the ops no rule handles.")
        {
            model, json, size, layout, output, preset,
        };
        command.SetAction(parse =>
        {
            var adapted = InputAdapter.Adapt(OnnxModel.Load(parse.GetValue(model)!), parse.GetValue(layout) is { } l ? InputAdapter.ParseLayout(l) : null);
            var m = adapted.Model;
            int[]? inputShape = null;
            if (parse.GetValue(size) is { } text)
            {
                var parts = text.ToLowerInvariant().Split('x');
                if (parts.Length is not (1 or 2) || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 && v <= 16384))
                    throw new UsageException($"--size '{text}' is not HxW or N");
                int c = m.InputShape.Length == 4 && m.InputShape[1] > 0 ? m.InputShape[1] : 3;
                inputShape = new[] { 1, c, int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture) };
            }
            else if (m.FixedInputShape() == null && m.InputShape.Length == 4 && ModelDefaults.MetadataInputSize(m) is { } fromMetadata)
                inputShape = new[] { 1, m.InputShape[1] > 0 ? m.InputShape[1] : 3, fromMetadata.H, fromMetadata.W };
            var report = ModelInspection.Inspect(m, inputShape, parse.GetValue(output));
            var info = new InputInfo(adapted, Preprocessing(adapted, parse.GetValue(preset)), inputShape);
            if (parse.GetValue(json)) WriteJson(stdout, report, info);
            else WriteTable(stdout, report, info);
            return report.Unhandled.Any() ? CliApp.Failure : CliApp.Ok;
        });
        return command;
    }

    private static string ShapeText(int[]? shape) => shape == null ? "?" : Shapes.Format(shape);

    /// <summary>What explain would do with an image for this model: the input adapter, the preprocessing (or why there is none).</summary>
    private sealed record InputInfo(AdaptedModel Adapted, string Preprocessing, int[]? SizeGiven)
    {
        public string Layout => Adapted.Layout.ToString().ToUpperInvariant();
        public string Channels => Adapted.Channels switch
        {
            1 => "1 (luminance)",
            3 => "3 (RGB/BGR)",
            -1 => "not declared (3 assumed)",
            int c => $"{c} (images not supported: give --input-tensor)",
        };

        /// <summary>Whether the input's size is known: fixed, given, or free only in the batch dimension.</summary>
        public string Size(OnnxModel m)
        {
            if (m.FixedInputShape() != null)
                return m.InputShape[0] <= 0 ? "fixed (the batch dimension is free; batch 1 is used)" : "fixed";
            if (SizeGiven != null) return $"{SizeGiven[2]}x{SizeGiven[3]} ({(ModelDefaults.MetadataInputSize(m) != null ? "metadata input_size" : "--size")})";
            return "not fixed: give --size HxW to explain";
        }
    }

    private static string Preprocessing(AdaptedModel adapted, string? preset)
    {
        try { return Imaging.PreprocessingChoice.For(adapted, preset).Describe(); }
        catch (CnnFixationsException e) { return "none for images: " + e.Message; }
    }

    private static void WriteTable(TextWriter stdout, ModelInspection report, InputInfo info)
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
        var original = info.Adapted.Original;
        stdout.WriteLine($"input:          {m.InputName} {Shapes.Format(original.InputShape)} {info.Adapted.InputElementType}; size {info.Size(m)}");
        stdout.WriteLine($"layout:         {info.Layout} ({info.Adapted.LayoutReason}){(info.Adapted.Model != original ? $"; explained as float32 {Shapes.Format(m.InputShape)} through the added {string.Join(" and ", AddedNodes(info.Adapted))}" : "")}");
        stdout.WriteLine($"channels:       {info.Channels}");
        stdout.WriteLine($"preprocessing:  {info.Preprocessing}");
        var meta = MetadataKeys.Where(m.Metadata.ContainsKey).Select(k => $"{k}={m.Metadata[k]}").ToList();
        stdout.WriteLine($"metadata:       {(meta.Count > 0 ? string.Join(", ", meta) : "none")}");
        stdout.WriteLine($"logits:         {report.LogitsTensor} ({(report.ClassCount > 0 ? report.ClassCount.ToString(CultureInfo.InvariantCulture) : "?")} classes): {report.ScoreReason}");
        stdout.WriteLine($"ops:            {string.Join(", ", report.Nodes.GroupBy(Op).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"))}");
        var unhandled = report.Unhandled.ToList();
        stdout.WriteLine(unhandled.Count == 0
            ? "unhandled:      none: every op the walk can reach has a rule"
            : $"unhandled:      {string.Join(", ", unhandled.Select(n => $"{Op(n)} ('{n.Name}')"))}: explaining this model stops there");
    }

    private static IEnumerable<string> AddedNodes(AdaptedModel a) =>
        a.Model.Nodes.Where(n => !a.Original.Nodes.Any(o => o.Name == n.Name && o.OpType == n.OpType)).Select(n => n.OpType);

    private static string Op(NodeReport n) => n.Domain.Length == 0 || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}";

    private static void WriteJson(TextWriter stdout, ModelInspection report, InputInfo info)
    {
        var m = report.Model;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", m.Path);
            w.WriteString("sha256", m.Sha256);
            w.WriteString("input", m.InputName);
            w.WriteStartArray("inputShape"); foreach (int d in info.Adapted.Original.InputShape) w.WriteNumberValue(d); w.WriteEndArray();
            w.WriteString("inputType", info.Adapted.InputElementType);
            w.WriteString("inputSize", info.Size(m));
            w.WriteString("layout", info.Layout);
            w.WriteString("layoutReason", info.Adapted.LayoutReason);
            w.WriteString("channels", info.Channels);
            w.WriteString("preprocessing", info.Preprocessing);
            w.WriteString("logits", report.LogitsTensor);
            w.WriteString("logitsReason", report.ScoreReason);
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
