using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Onnx;

namespace CnnFixations.Tests.Fixtures;

/// <summary>One model file of the tiny fixtures (seeded-random classic topologies) with its input and PyTorch reference logits.</summary>
public sealed record TinyFixture(string Folder, string ModelFile)
{
    public string ModelPath => Path.Combine(TestPaths.TinyFixtures, Folder, ModelFile);
    public string InputPath => Path.Combine(TestPaths.TinyFixtures, Folder, "input.npy");
    public string Stem => Path.GetFileNameWithoutExtension(ModelFile);

    public TensorValue LoadInput()
    {
        var (shape, data) = NpyFile.ReadFloat32(InputPath);
        return new TensorValue(shape, data);
    }

    public float[] ReferenceLogits()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.TinyFixtures, Folder, "logits.json")));
        return doc.RootElement.GetProperty("logits").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
    }

    public override string ToString() => $"{Folder}/{ModelFile}";

    public static IEnumerable<TinyFixture> All() =>
        Directory.GetDirectories(TestPaths.TinyFixtures).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.onnx").OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new TinyFixture(Path.GetFileName(d), Path.GetFileName(f))));

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var f in All()) data.Add(f.ToString());
        return data;
    }

    public static TinyFixture Parse(string name)
    {
        var parts = name.Split('/');
        return new TinyFixture(parts[0], parts[1]);
    }
}
