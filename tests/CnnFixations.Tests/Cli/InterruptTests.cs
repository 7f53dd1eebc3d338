using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CnnFixations.Tests.Cli;

/// <summary>Ctrl-C (SIGINT) during a batch: the images in flight finish, the summary is printed, nothing half-written is left.</summary>
public class InterruptTests
{
    [Fact]
    public async Task Sigint_stops_after_the_images_in_flight_and_leaves_no_partial_files()
    {
        Assert.True(OperatingSystem.IsLinux(), "this test sends SIGINT with kill(2)");
        string input = TestPaths.NewTempDir(), output = TestPaths.NewTempDir();
        for (int i = 0; i < 60; i++) File.Copy(Path.Combine(TestPaths.Samples, "cat.png"), Path.Combine(input, $"cat{i:D2}.png"));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cnn-fixations.dll"));
        foreach (var a in new[] { "explain", input, "--out", output, "--jobs", "1" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        // Wait for the first image to be done, then interrupt.
        string? line;
        while ((line = p.StandardOutput.ReadLine()) != null && !line.StartsWith("[1/60]", StringComparison.Ordinal)) { }
        Assert.NotNull(line);
        Assert.Equal(0, Kill(p.Id, 2));
        string rest = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("interrupted", await stderr);
        Assert.Contains("not started", rest);
        int done = Directory.GetFiles(output, "*.json").Length;
        Assert.InRange(done, 1, 59);
        Assert.Equal(done, Directory.GetFiles(output, "*.overlay.png").Length);
        Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(done, File.ReadAllLines(Path.Combine(output, "results.jsonl")).Length);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
