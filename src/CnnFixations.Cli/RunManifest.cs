using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CnnFixations.Cli;

/// <summary>
/// What a batch run records beside its results so that shards can be merged: the command, the shard, the
/// number of inputs of the whole run, the model's file name and SHA-256, the options that change the results,
/// and, per input done, its number in the whole list and how many lines of the per-input results file
/// (results.jsonl for explain, evaluation.rows.jsonl for evaluate) are its own. One line of JSON (named .jsonl so that it
/// never clashes with an image's &lt;stem&gt;.json), no timings:
/// a merge of all shards writes the same bytes as a single run.
/// </summary>
internal sealed record RunManifest
{
    public const string ExplainFile = "results.run.jsonl";
    public const string EvaluateFile = "evaluation.run.jsonl";

    public required string Command { get; init; }
    public required Shard Shard { get; init; }
    public required int Inputs { get; init; }
    public required string ModelFile { get; init; }
    public required string ModelSha256 { get; init; }
    /// <summary>The options as one line of JSON (see <see cref="OptionsJson"/>).</summary>
    public required string Options { get; init; }
    /// <summary>evaluate: what the report needs besides the rows (model name, threshold, label offset, methods), one line of JSON.</summary>
    public string? Report { get; init; }
    public required IReadOnlyList<(int Index, int Lines)> Images { get; init; }

    public static string FileName(string command) => command == "explain" ? ExplainFile : EvaluateFile;

    public byte[] ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("command", Command);
            w.WriteStartObject("shard");
            w.WriteNumber("index", Shard.Index);
            w.WriteNumber("count", Shard.Count);
            w.WriteEndObject();
            w.WriteNumber("inputs", Inputs);
            w.WriteStartObject("model");
            w.WriteString("file", ModelFile);
            w.WriteString("sha256", ModelSha256);
            w.WriteEndObject();
            w.WritePropertyName("options");
            w.WriteRawValue(Options);
            if (Report != null)
            {
                w.WritePropertyName("report");
                w.WriteRawValue(Report);
            }
            w.WriteStartArray("images");
            foreach (var (index, lines) in Images)
            {
                w.WriteStartArray();
                w.WriteNumberValue(index);
                w.WriteNumberValue(lines);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    public static RunManifest Read(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var shard = root.GetProperty("shard");
            var model = root.GetProperty("model");
            var manifest = new RunManifest
            {
                Command = root.GetProperty("command").GetString() ?? "",
                Shard = new Shard(shard.GetProperty("index").GetInt32(), shard.GetProperty("count").GetInt32()),
                Inputs = root.GetProperty("inputs").GetInt32(),
                ModelFile = model.GetProperty("file").GetString() ?? "",
                ModelSha256 = model.GetProperty("sha256").GetString() ?? "",
                Options = Compact(root.GetProperty("options")),
                Report = root.TryGetProperty("report", out var report) ? Compact(report) : null,
                Images = root.GetProperty("images").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetInt32())).ToList(),
            };
            if (manifest.Command is not ("explain" or "evaluate") || manifest.Shard.Count < 1 || manifest.Shard.Index < 0
                || manifest.Shard.Index >= manifest.Shard.Count || manifest.Inputs < 0
                || manifest.Images.Any(i => i.Index < 0 || i.Index >= manifest.Inputs || i.Lines < 0))
                throw new FormatException("values out of range");
            return manifest;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new CnnFixationsException($"'{path}' is not a run file written by cnn-fixations ({e.Message.Split('\n')[0].Trim()})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot read '{path}': {e.Message}");
        }
    }

    private static string Compact(JsonElement element)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) element.WriteTo(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>
    /// An options object as one line of JSON: its public properties (nested option records too) in ordinal name
    /// order, numbers in invariant round-trip form, enums by name; <paramref name="excluded"/> names the
    /// properties that do not change the results (output folders, parallelism, verbosity).
    /// </summary>
    public static string OptionsJson(object options, params string[] excluded)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) WriteValue(w, options, excluded, 0);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, object? value, string[] excluded, int depth)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case Enum e: w.WriteStringValue(e.ToString()); break;
            case int or long or short or byte: w.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
            case double or float:
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsFinite(d)) w.WriteNumberValue(d);
                else w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
                break;
            case IEnumerable items:
                w.WriteStartArray();
                foreach (var item in items) WriteValue(w, item, excluded, depth + 1);
                w.WriteEndArray();
                break;
            default:
                var type = value.GetType();
                if (depth > 3 || type.IsPrimitive || type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true)
                {
                    w.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
                }
                w.WriteStartObject();
                foreach (var p in type.GetProperties().Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && !p.GetMethod!.IsStatic && !excluded.Contains(p.Name))
                             .OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(JsonNamingPolicy.CamelCase.ConvertName(p.Name));
                    WriteValue(w, p.GetValue(value), excluded, depth + 1);
                }
                w.WriteEndObject();
                break;
        }
    }
}
