namespace CnnFixations.Tests;

/// <summary>Locations of the repository's test data, found from the test assembly's folder.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "CnnFixations.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (CnnFixations.sln) not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;
    public static string TinyFixtures => Path.Combine(RepoRoot, "tests", "fixtures", "tiny");
    public static string Reference => Path.Combine(RepoRoot, "tests", "CnnFixations.Tests", "Reference");
    public static string BundledModel => Path.Combine(RepoRoot, "models", "mobilenet_v2_1.0_224_quant.qdq.onnx");
    public static string Samples => Path.Combine(RepoRoot, "samples");
    /// <summary>The shared folder beside the repository (photos, real models); may be absent.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cnnfix-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
