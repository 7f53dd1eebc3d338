using System.Text.Json;

namespace CnnFixations.Captioning;

/// <summary>How the image feature enters the decoder.</summary>
public enum ImageEntry
{
    /// <summary>Show-and-Tell: the image embedding is the LSTM's input at the first step (no word is read there).</summary>
    FirstStep,
    /// <summary>The feature, through a linear layer, is the LSTM's initial hidden (and optionally cell) state.</summary>
    InitialState,
}

/// <summary>
/// The JSON manifest of a captioner (see docs/captioning.md): the encoder ONNX and the name of its
/// feature tensor, the decoder-step ONNX and its tensor names, the vocabulary file, the start/end
/// tokens and how the image enters. Paths are relative to the manifest's folder.
/// </summary>
public sealed record CaptionerManifest
{
    public const string FileName = "captioner.json";
    public const string FormatName = "cnn-fixations-captioner/1";

    public required string Path { get; init; }
    public required string EncoderModel { get; init; }
    public required string FeatureTensor { get; init; }
    public required string DecoderModel { get; init; }
    public required string Vocabulary { get; init; }
    public string WordInput { get; init; } = "word";
    public string FeatureInput { get; init; } = "feature";
    public string HInput { get; init; } = "h";
    public string CInput { get; init; } = "c";
    public string LogitsOutput { get; init; } = "logits";
    public string HOutput { get; init; } = "h_out";
    public string COutput { get; init; } = "c_out";
    public required string StartToken { get; init; }
    public required string EndToken { get; init; }
    public ImageEntry Entry { get; init; }
    /// <summary>First-step entry: the token read at the image step (its embedding row is the image embedding's bias).</summary>
    public string? ImageToken { get; init; }
    /// <summary>Initial-state entry: the decoder outputs holding the initial hidden and cell state (cell optional: zeros).</summary>
    public string? InitialH { get; init; }
    public string? InitialC { get; init; }
    public string? Description { get; init; }

    /// <summary>Reads a manifest file, or the <see cref="FileName"/> in a folder.</summary>
    public static CaptionerManifest Load(string path)
    {
        string file = Directory.Exists(path) ? System.IO.Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new CnnFixationsException($"captioner manifest '{file}' does not exist");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException e) { throw new CnnFixationsException($"captioner manifest '{file}' is not valid JSON: {e.Message.Split('\n')[0]}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CnnFixationsException($"captioner manifest '{file}' is not a JSON object");
            string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;
            string Req(JsonElement e, string section, string name)
            {
                if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(v.GetString()))
                    throw new CnnFixationsException($"captioner manifest '{file}': {section}{name} is missing (a non-empty string is needed)");
                return v.GetString()!;
            }
            string Opt(JsonElement e, string name, string fallback) =>
                e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
            JsonElement Section(string name) =>
                root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v
                    : throw new CnnFixationsException($"captioner manifest '{file}': the object '{name}' is missing");

            string format = Opt(root, "format", "");
            if (format != FormatName) throw new CnnFixationsException($"captioner manifest '{file}': format is '{format}', expected '{FormatName}'");
            var encoder = Section("encoder");
            var decoder = Section("decoder");
            var image = Section("image");
            string entry = Req(image, "image.", "entry");
            var kind = entry switch
            {
                "first-step" => ImageEntry.FirstStep,
                "initial-state" => ImageEntry.InitialState,
                _ => throw new CnnFixationsException($"captioner manifest '{file}': image.entry is '{entry}', expected 'first-step' or 'initial-state'"),
            };
            return new CaptionerManifest
            {
                Path = file,
                EncoderModel = System.IO.Path.Combine(dir, Req(encoder, "encoder.", "model")),
                FeatureTensor = Req(encoder, "encoder.", "feature"),
                DecoderModel = System.IO.Path.Combine(dir, Req(decoder, "decoder.", "model")),
                WordInput = Opt(decoder, "word", "word"),
                FeatureInput = Opt(decoder, "feature", "feature"),
                HInput = Opt(decoder, "h", "h"),
                CInput = Opt(decoder, "c", "c"),
                LogitsOutput = Opt(decoder, "logits", "logits"),
                HOutput = Opt(decoder, "hOut", "h_out"),
                COutput = Opt(decoder, "cOut", "c_out"),
                Vocabulary = System.IO.Path.Combine(dir, Req(root, "", "vocabulary")),
                StartToken = Req(root, "", "start"),
                EndToken = Req(root, "", "end"),
                Entry = kind,
                ImageToken = kind == ImageEntry.FirstStep ? Req(image, "image.", "token") : null,
                InitialH = kind == ImageEntry.InitialState ? Req(image, "image.", "h") : null,
                InitialC = kind == ImageEntry.InitialState && image.TryGetProperty("c", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null,
                Description = Opt(root, "description", "") is { Length: > 0 } d ? d : null,
            };
        }
    }
}
