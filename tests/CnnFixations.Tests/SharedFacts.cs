namespace CnnFixations.Tests;

/// <summary>
/// Test data that may not be redistributed with the repository (ImageNet validation images) or is too
/// large for it lives in the shared folder beside the clone (<see cref="TestPaths.Shared"/>). Tests that
/// read it run when that folder holds what they need and are reported as skipped, with the reason,
/// when it does not. CI has the folder and fails on any skipped test.
/// </summary>
internal static class SharedData
{
    /// <summary>Null when <paramref name="relativePath"/> exists under the shared folder, else why the test is skipped.</summary>
    public static string? SkipUnless(string relativePath, string what)
    {
        string path = Path.Combine(TestPaths.Shared, relativePath);
        return File.Exists(path) || Directory.Exists(path)
            ? null
            : $"needs {what} at {path} (not redistributable or too large for the repository; present in CI)";
    }
}

/// <summary>A fact that runs only when the shared folder holds <c>relativePath</c>; skipped with the reason otherwise.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute(string relativePath = "", string what = "the shared test data")
    {
        if (SharedData.SkipUnless(relativePath, what) is { } reason) Skip = reason;
    }
}

/// <summary>A theory that runs only when the shared folder holds <c>relativePath</c>; skipped with the reason otherwise.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute(string relativePath, string what)
    {
        if (SharedData.SkipUnless(relativePath, what) is { } reason) Skip = reason;
    }
}

/// <summary>A fact that needs headless Chromium (Debian's package); skipped with the reason when it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Path)) Skip = $"needs Chromium at {Path} (apt-get install -y chromium; .ci/run installs it)";
    }
}
