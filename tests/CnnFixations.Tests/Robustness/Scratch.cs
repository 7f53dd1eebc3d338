using System.Text.Json;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Robustness;

/// <summary>A temporary folder for one test class, with a small 3-channel 16x16 classifier saved in it; deleted afterwards.</summary>
public sealed class Scratch : IDisposable
{
    public Scratch()
    {
        Dir = TestPaths.NewTempDir();
        var net = StandardNet();
        var proto = net.Proto();
        NetBuilder.DeclareOutputShape(proto, net.Current, 1, 3);
        Model = NetBuilder.Save(proto, Dir, "tiny.onnx");
    }

    /// <summary>x [1,3,16,16] -> Conv 3x3 -> Relu -> MaxPool 2x2 -> GlobalAveragePool -> Flatten -> Gemm -> 3 logits.</summary>
    internal static NetBuilder StandardNet(int channels = 3, int size = 16) =>
        new NetBuilder(channels, size, size, seed: 7).Conv(4, 3, pad: 1).Relu().Pool("MaxPool", 2, 2).Head(3);

    public string Dir { get; }

    /// <summary>The standard small classifier (outputs: 3 logits, no labels).</summary>
    public string Model { get; }

    public string File(string name, byte[] bytes)
    {
        string path = Path.Combine(Dir, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public string NewDir() => Directory.CreateDirectory(Path.Combine(Dir, Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Assertions on command-line results: the exit code, and one error line that says what is wrong.</summary>
internal static class Expect
{
    /// <summary>Exit code <paramref name="code"/> and a single "error: ..." line on standard error holding every fragment.</summary>
    public static void Failure(CliResult r, int code, params string[] fragments)
    {
        string context = $"exit {r.ExitCode}; stderr: {r.Stderr}; stdout: {r.Stdout}";
        Assert.True(r.ExitCode == code, context);
        var errors = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count >= 1, context);
        string line = errors[0];
        foreach (var f in fragments) Assert.True(line.Contains(f, StringComparison.Ordinal), $"expected '{f}' in: {line}");
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    /// <summary>Exit code 0; returns the JSON document written to standard output (--json -).</summary>
    public static JsonElement Success(CliResult r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}; stderr: {r.Stderr}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.Clone();
    }
}
