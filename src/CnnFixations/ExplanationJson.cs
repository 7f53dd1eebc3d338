using System.Text.Json;

namespace CnnFixations;

/// <summary>
/// Writes one explanation (one image, one target) as the product's JSON document. The same inputs
/// give the same bytes; only the timings differ between runs.
/// </summary>
public static class ExplanationJson
{
    /// <summary>Writes the document of one fixation explanation.</summary>
    /// <param name="w">Where the document goes.</param>
    /// <param name="imagePath">The image file, or null for a tensor input.</param>
    /// <param name="modelPath">The model file.</param>
    /// <param name="modelSha256">The model file's SHA-256 (hex).</param>
    /// <param name="input">The network input and its geometry.</param>
    /// <param name="explanation">The walk.</param>
    /// <param name="map">The fixations mapped to the image.</param>
    /// <param name="totalMs">The time the whole explanation took.</param>
    /// <param name="predictions">Predictions to report instead of the explanation's own (the five-crop mean).</param>
    /// <param name="crops">For the five-crop protocol: the unravelled crops; inputFixations then lists the union of theirs.</param>
    public static void Write(Utf8JsonWriter w, string? imagePath, string modelPath, string modelSha256, ExplanationInput input,
        TensorExplanation explanation, FixationMap map, double totalMs,
        IReadOnlyList<Prediction>? predictions = null, IReadOnlyList<CropExplanation>? crops = null)
    {
        w.WriteStartObject();
        WriteSource(w, imagePath, modelPath, modelSha256, input);

        WritePredictions(w, predictions ?? explanation.Predictions);

        w.WriteStartObject("target");
        if (explanation.Start is { } start)
        {
            w.WriteString("start", start.ToString());
            w.WriteString("tensor", start.Tensor);
            w.WriteNumber("neurons", explanation.Fixations.Layers[0].Count);
        }
        else
        {
            w.WriteNumber("index", explanation.Target);
            WriteLabel(w, explanation.TargetLabel);
            w.WriteNumber("logit", explanation.TargetLogit);
        }
        w.WriteEndObject();

        var neurons = crops == null
            ? explanation.Fixations.Input.ToNeurons()
            : crops.SelectMany(c => c.Explanation.Fixations.Input.ToNeurons()).DistinctBy(n => (n[0], n[1], n[2])).OrderBy(n => n[0]).ThenBy(n => n[1]).ThenBy(n => n[2]).ToList();
        WriteNeurons(w, "inputFixations", neurons);
        if (crops != null)
        {
            w.WriteStartArray("crops");
            foreach (var c in crops)
            {
                w.WriteStartObject();
                w.WriteString("crop", c.Crop.Name);
                var r = c.Crop.Geometry;
                w.WriteStartArray("region");
                foreach (int v in new[] { r.Region.X, r.Region.Y, r.Region.Width, r.Region.Height, r.ResizedWidth, r.ResizedHeight }) w.WriteNumberValue(v);
                w.WriteEndArray();
                w.WriteNumber("logit", c.Explanation.TargetLogit);
                WriteNeurons(w, "inputFixations", c.Explanation.Fixations.Input.ToNeurons());
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

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

    /// <summary>The document of a baseline method (CAM, Grad-CAM, gradient): the same fields without fixations, plus "method".</summary>
    public static void WriteBaseline(Utf8JsonWriter w, string? imagePath, string modelPath, string modelSha256, ExplanationInput input,
        TensorExplanation prediction, string method, Baselines.SaliencyMap map, int[]? box, double threshold, double totalMs)
    {
        w.WriteStartObject();
        WriteSource(w, imagePath, modelPath, modelSha256, input);
        w.WriteString("method", method);
        WritePredictions(w, prediction.Predictions);
        w.WriteStartObject("target");
        w.WriteNumber("index", prediction.Target);
        WriteLabel(w, prediction.TargetLabel);
        w.WriteNumber("logit", prediction.TargetLogit);
        w.WriteEndObject();
        w.WriteNumber("boxThreshold", threshold);
        if (box == null) w.WriteNull("box");
        else
        {
            w.WriteStartArray("box");
            foreach (int v in box) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteStartObject("timings");
        w.WriteNumber("totalMs", Math.Round(totalMs, 3));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSource(Utf8JsonWriter w, string? imagePath, string modelPath, string modelSha256, ExplanationInput input)
    {
        if (imagePath == null) w.WriteNull("image"); else w.WriteString("image", imagePath);
        w.WriteNumber("width", input.Width);
        w.WriteNumber("height", input.Height);
        w.WriteStartObject("model");
        w.WriteString("path", modelPath);
        w.WriteString("sha256", modelSha256);
        w.WriteEndObject();
    }

    private static void WritePredictions(Utf8JsonWriter w, IEnumerable<Prediction> predictions)
    {
        w.WriteStartArray("predictions");
        foreach (var p in predictions)
        {
            w.WriteStartObject();
            w.WriteNumber("index", p.Index);
            WriteLabel(w, p.Label);
            w.WriteNumber("score", p.Score);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteNeurons(Utf8JsonWriter w, string name, IEnumerable<int[]> neurons)
    {
        w.WriteStartArray(name);
        foreach (var n in neurons)
        {
            w.WriteStartArray();
            foreach (int v in n) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }

    private static void WriteLabel(Utf8JsonWriter w, string? label)
    {
        if (label == null) w.WriteNull("label"); else w.WriteString("label", label);
    }

    /// <summary>Writes <paramref name="points"/> as the property <paramref name="name"/>: an array of <c>[x, y]</c> pairs.</summary>
    public static void WritePoints(Utf8JsonWriter w, string name, IReadOnlyList<(int X, int Y)> points)
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
