namespace CnnFixations.Tests;

/// <summary>A test that reads ../shared (evaluation photos, real models): skipped, with the reason, when that folder is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute(string relativePath = "")
    {
        string path = Path.Combine(TestPaths.Shared, relativePath);
        if (!Directory.Exists(path) && !File.Exists(path))
            Skip = $"needs {path} (the shared folder beside the repository), which is absent";
    }
}
