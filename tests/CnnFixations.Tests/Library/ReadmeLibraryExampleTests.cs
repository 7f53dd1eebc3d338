using System.Diagnostics;
using System.Text.RegularExpressions;
using CnnFixations.Imaging;

namespace CnnFixations.Tests.Library;

/// <summary>
/// The README's library example is a program that works as written: its first C# block under "## Library"
/// is built in a new project against the library package (packed from this build) and run on the sample cat.
/// </summary>
public class ReadmeLibraryExampleTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    /// <summary>The first ```csharp block after the "## Library" heading of README.md.</summary>
    internal static string LibraryExample()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md")).ReplaceLineEndings("\n");
        int section = readme.IndexOf("\n## Library\n", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no '## Library' section");
        var block = new Regex("^```csharp\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline).Match(readme, section);
        Assert.True(block.Success, "the Library section of README.md has no ```csharp block");
        int nextSection = readme.IndexOf("\n## ", section + 1, StringComparison.Ordinal);
        Assert.True(nextSection < 0 || block.Index < nextSection, "the first ```csharp block after '## Library' is in a later section");
        return block.Groups[1].Value;
    }

    [Fact]
    public void The_library_example_builds_against_the_package_and_writes_the_overlay()
    {
        string code = LibraryExample();
        Assert.Contains("args[0]", code);
        Assert.Contains("args[1]", code);

        string dir = TestPaths.NewTempDir();
        // A version of its own, so that no copy of an earlier package in the NuGet cache is used.
        string version = "0.0.0-readme." + Path.GetFileName(dir)["cnnfix-tests-".Length..];
        string cached = Path.Combine(NuGetPackagesFolder(), "cnnfixations", version);
        try
        {
            string feed = Path.Combine(dir, "feed"), app = Path.Combine(dir, "app");
            Directory.CreateDirectory(app);
            Run(TestPaths.RepoRoot, "pack", Path.Combine("src", "CnnFixations", "CnnFixations.csproj"), "--no-build", "-c", Configuration,
                "-o", feed, "-p:Version=" + version, "-p:PackageVersion=" + version);
            Assert.True(File.Exists(Path.Combine(feed, $"CnnFixations.{version}.nupkg")), "dotnet pack wrote no package");

            // The app stands alone: no Directory.Build.* from folders above, the local feed as a package source.
            File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), "<Project />\n");
            File.WriteAllText(Path.Combine(dir, "Directory.Build.targets"), "<Project />\n");
            File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="readme-test" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "ReadmeExample.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <!-- This machine's natives only (as the README advises), not every platform's. -->
                    <RuntimeIdentifier>$(NETCoreSdkRuntimeIdentifier)</RuntimeIdentifier>
                    <SelfContained>false</SelfContained>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="CnnFixations" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), code);
            Run(app, "build", "-c", "Release", "-o", Path.Combine(app, "out"));

            string overlay = Path.Combine(dir, "cat.overlay.png");
            string output = Run(app, Path.Combine(app, "out", "ReadmeExample.dll"), Path.Combine(TestPaths.Samples, "cat.png"), overlay);
            Assert.True(File.Exists(overlay), "the example wrote no overlay; it printed:\n" + output);
            var png = ImageLoader.Load(overlay);
            Assert.Equal((512, 341), (png.Width, png.Height));
            Assert.Contains("Egyptian cat", output);
        }
        finally
        {
            Directory.Delete(dir, true);
            if (Directory.Exists(cached)) Directory.Delete(cached, true);
        }
    }

    private static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Runs the dotnet host that runs the tests (or the one on the PATH) and returns its output; fails the test on a non-zero exit.</summary>
    private static string Run(string workingDirectory, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var psi = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's MSBuild settings must not leak into the child builds.
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
            psi.Environment.Remove(name);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(600_000), $"dotnet {string.Join(' ', args)} did not finish in 10 minutes");
        string output = stdout.Result + stderr.Result;
        Assert.True(p.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {p.ExitCode}:\n{output}");
        return output;
    }
}
