using System.Text.Json;

namespace CnnFixations;

/// <summary>
/// Writes one explanation (one image, one target) as the product's JSON document. The same inputs
/// give the same bytes; only the timings differ between runs.
/// </summary>
public static class ExplanationJson
{
    public static void Write(Utf8JsonWriter w, string? imagePath, string modelPath, string modelSha256, ExplanationInput input,
        TensorExplanation explanation, FixationMap map, double totalMs)
    {
        w.WriteStartObject();
        if (imagePath == null) w.WriteNull("image"); else w.WriteString("image", imagePath);
        w.WriteNumber("width", input.Width);
        w.WriteNumber("height", input.Height);
        w.WriteStartObject("model");
        w.WriteString("path", modelPath);
        w.WriteString("sha256", modelSha256);
        w.WriteEndObject();

        w.WriteStartArray("predictions");
        foreach (var p in explanation.Predictions)
        {
            w.WriteStartObject();
            w.WriteNumber("index", p.Index);
            WriteLabel(w, p.Label);
            w.WriteNumber("score", p.Score);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartObject("target");
        w.WriteNumber("index", explanation.Target);
        WriteLabel(w, explanation.Predictions.FirstOrDefault(p => p.Index == explanation.Target)?.Label ?? explanation.TargetLabel);
        w.WriteNumber("logit", explanation.TargetLogit);
        w.WriteEndObject();

        w.WriteStartArray("inputFixations");
        foreach (var n in explanation.Fixations.Input.ToNeurons())
        {
            w.WriteStartArray();
            foreach (int v in n) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndArray();

        WritePoints(w, "points", map.Points);
        WritePoints(w, "keptPoints", map.KeptPoints);
        if (map.Box == null) w.WriteNull("box");
        else
        {
            w.WriteStartArray("box");
            foreach (int v in map.Box) w.WriteNumberValue(v);
            w.WriteEndArray();
        }

        w.WriteStartArray("warnings");
        foreach (var warning in explanation.Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();

        w.WriteStartObject("timings");
        w.WriteNumber("forwardMs", Math.Round(explanation.ForwardMs, 3));
        w.WriteNumber("unravelMs", Math.Round(explanation.UnravelMs, 3));
        w.WriteNumber("totalMs", Math.Round(totalMs, 3));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteLabel(Utf8JsonWriter w, string? label)
    {
        if (label == null) w.WriteNull("label"); else w.WriteString("label", label);
    }

    private static void WritePoints(Utf8JsonWriter w, string name, IReadOnlyList<(int X, int Y)> points)
    {
        w.WriteStartArray(name);
        foreach (var (x, y) in points)
        {
            w.WriteStartArray();
            w.WriteNumberValue(x);
            w.WriteNumberValue(y);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }
}
