using System.Diagnostics;
using System.Text.RegularExpressions;
using CnnFixations.Reporting;

namespace CnnFixations.Tests.Cli;

public class ReportTests
{
    [Fact]
    public void Text_is_escaped_and_paths_are_url_encoded()
    {
        var html = HtmlReport.Render(new[]
        {
            new ReportEntry("dir/<b>&\"x\".png", "dir/a b#.overlay.png", "dir/a b#.json", new[] { new Prediction(3, "cat <script>", 0.5) }, new[] { 1, 2, 3, 4 }, null),
            new ReportEntry("bad.jpg", null, null, Array.Empty<Prediction>(), null, "not an <image>"),
        }, "run & <title>");
        Assert.DoesNotContain("<b>", html);
        Assert.DoesNotContain("<script>cat", html);
        Assert.Contains("&lt;b&gt;&amp;&quot;x&quot;.png", html);
        Assert.Contains("cat &lt;script&gt;", html);
        Assert.Contains("src=\"dir/a%20b%23.overlay.png\"", html);
        Assert.Contains("not an &lt;image&gt;", html);
        Assert.Contains("<title>run &amp; &lt;title&gt;</title>", html);
        Assert.Equal(2, Regex.Matches(html, "<article ").Count);
        Assert.DoesNotContain("http", html); // self-contained: no network address
    }

    /// <summary>The page of a real run opens in headless Chromium, its script runs, and every card is there.</summary>
    [ChromiumFact]
    public async Task The_report_of_a_run_renders_every_card_in_chromium()
    {
        const string chromium = ChromiumFactAttribute.Path;
        string input = TestPaths.NewTempDir(), output = TestPaths.NewTempDir();
        foreach (var f in new[] { "cat.png", "bird.png", "grace_hopper.png" }) File.Copy(Path.Combine(TestPaths.Samples, f), Path.Combine(input, f));
        File.WriteAllText(Path.Combine(input, "broken.png"), "not a PNG");
        var r = CliRunner.Run("explain", input, "--out", output, "--report", "-q");
        Assert.Equal(1, r.ExitCode); // one image failed
        string report = Path.Combine(output, "report.html");
        Assert.True(File.Exists(report));

        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                                  "--disable-component-update", "--disable-sync", "--user-data-dir=" + TestPaths.NewTempDir(), "--virtual-time-budget=5000",
                                  "--dump-dom", new Uri(report).AbsoluteUri })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var dom = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "chromium did not finish");
        string html = await dom;
        Assert.Contains("id=\"report-ready\"", html);
        Assert.Contains("data-cards=\"4\"", html);
        Assert.Equal(4, Regex.Matches(html, "<article ").Count);
        Assert.Contains("Egyptian cat", html);
        Assert.Contains("class=\"card error\"", html);
        Assert.DoesNotContain("Uncaught", await err);
    }
}
