using System.Text;
using System.Text.Json;
using CnnFixations.Evaluation;

namespace CnnFixations.Cli;

/// <summary>
/// evaluation.rows.jsonl: every row of an evaluation (one image and method) as one line of JSON at full
/// precision, so that 'merge' recomputes the metrics of several shards exactly as one run computes them
/// (evaluation.csv rounds to six decimals). With the report header of the run file it rebuilds the report.
/// </summary>
internal static class EvaluationRows
{
    public const string FileName = "evaluation.rows.jsonl";

    private static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    public static byte[] Lines(IEnumerable<IReadOnlyList<ImageResult>> perImage)
    {
        using var ms = new MemoryStream();
        foreach (var rows in perImage)
            foreach (var row in rows)
            {
                JsonSerializer.Serialize(ms, row, Options);
                ms.WriteByte((byte)'\n');
            }
        return ms.ToArray();
    }

    public static ImageResult Parse(ReadOnlySpan<byte> line, string where)
    {
        try
        {
            return JsonSerializer.Deserialize<ImageResult>(line, Options) ?? throw new JsonException("null row");
        }
        catch (JsonException e)
        {
            throw new CnnFixationsException($"{where}: not a row of an evaluation ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    /// <summary>The report's constructor arguments as one line of JSON.</summary>
    public static string ReportHeader(string model, double threshold, int labelOffset, IEnumerable<(string Name, string? NotApplicable)> methods)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteNumber("threshold", threshold);
            w.WriteNumber("labelOffset", labelOffset);
            w.WriteStartArray("methods");
            foreach (var (name, reason) in methods)
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                if (reason != null) w.WriteString("notApplicable", reason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>An empty report made as the run that wrote <paramref name="header"/> made it.</summary>
    public static EvaluationReport NewReport(string header)
    {
        using var doc = JsonDocument.Parse(header);
        var root = doc.RootElement;
        var methods = root.GetProperty("methods").EnumerateArray()
            .Select(m => (m.GetProperty("name").GetString()!, m.TryGetProperty("notApplicable", out var r) ? r.GetString() : null)).ToList();
        return new EvaluationReport(root.GetProperty("model").GetString()!, root.GetProperty("threshold").GetDouble(),
            root.GetProperty("labelOffset").GetInt32(), methods);
    }
}
