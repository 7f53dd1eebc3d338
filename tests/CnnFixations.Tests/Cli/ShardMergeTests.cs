using System.Text.Json;
using System.Text.RegularExpressions;
using CnnFixations.Tests.Imaging;
using SkiaSharp;

namespace CnnFixations.Tests.Cli;

/// <summary>--shard I/N and 'merge': N shards merged give a single run's outputs, byte for byte (timings aside).</summary>
public class ShardMergeTests
{
    private static string Model => TestPaths.BundledModel;

    /// <summary>A PNG of blobs whose places and colours follow the seed, so each image is classified differently.</summary>
    private static byte[] Generated(int seed, int width, int height)
    {
        var random = new Random(seed);
        var blobs = Enumerable.Range(0, 4).Select(_ => (X: random.Next(width), Y: random.Next(height), R: random.Next(20, 90),
            C: ((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)))).ToList();
        using var bitmap = TestImageFiles.Bitmap(width, height, (x, y) =>
        {
            foreach (var b in blobs)
                if ((x - b.X) * (x - b.X) + (y - b.Y) * (y - b.Y) < b.R * b.R) return b.C;
            return ((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((x + y) % 256));
        });
        return TestImageFiles.Encode(bitmap, SKEncodedImageFormat.Png);
    }

    private static string WithoutTimings(string json) => Regex.Replace(json, "\"timings\":\\{[^}]*\\}", "");

    private static Dictionary<string, string> Files(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(dir, f), f => f);

    /// <summary>Every file of <paramref name="expected"/> is in <paramref name="actual"/> with the same bytes (JSON documents: timings aside), and no other.</summary>
    private static void AssertSameOutputs(string expected, string actual)
    {
        var a = Files(expected);
        var b = Files(actual);
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, path) in a)
        {
            if (name.EndsWith(".json", StringComparison.Ordinal) || name.EndsWith(".jsonl", StringComparison.Ordinal))
                Assert.Equal(WithoutTimings(File.ReadAllText(path)), WithoutTimings(File.ReadAllText(b[name])));
            else
                Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(b[name])), $"{name} differs");
        }
    }

    [Fact]
    public void Explain_in_three_shards_merged_equals_one_run()
    {
        string input = TestPaths.NewTempDir(), root = TestPaths.NewTempDir();
        try
        {
            foreach (var s in new[] { "cat.png", "bird.png", "grace_hopper.png" }) File.Copy(Path.Combine(TestPaths.Samples, s), Path.Combine(input, s));
            Directory.CreateDirectory(Path.Combine(input, "sub"));
            File.WriteAllBytes(Path.Combine(input, "sub", "gen1.png"), Generated(1, 300, 200));
            File.WriteAllBytes(Path.Combine(input, "sub", "gen2.png"), Generated(2, 180, 260));
            File.WriteAllText(Path.Combine(input, "broken.jpg"), "this is not a JPEG");
            // 6 inputs in order: bird, broken, cat, grace_hopper, sub/gen1, sub/gen2; --top-k 2 gives two documents per image.
            string[] common = { "explain", input, "--recursive", "--model", Model, "--top-k", "2", "--jobs", "2", "--quiet" };
            string single = Path.Combine(root, "single");
            Assert.Equal(1, CliRunner.Run([.. common, "--out", single]).ExitCode); // broken.jpg fails
            var shards = Enumerable.Range(0, 3).Select(i => Path.Combine(root, $"shard{i}")).ToArray();
            for (int i = 0; i < 3; i++)
            {
                var r = CliRunner.Run([.. common, "--out", shards[i], "--shard", $"{i}/3"]);
                Assert.Equal(i == 1 ? 1 : 0, r.ExitCode); // broken.jpg is input 1
            }

            // Round robin over the expanded list: shard 1 holds inputs 1 and 4.
            var rows1 = File.ReadAllLines(Path.Combine(shards[1], "results.csv"));
            Assert.Equal(3, rows1.Length);
            Assert.Contains("broken.jpg", rows1[1]);
            Assert.Contains("gen1.png", rows1[2]);
            Assert.False(File.Exists(Path.Combine(shards[1], "cat.json")));
            Assert.Equal(3, File.ReadAllLines(Path.Combine(shards[1], "results.jsonl")).Length); // an error row and two documents

            string merged = Path.Combine(root, "merged");
            var m = CliRunner.Run("merge", shards[2], shards[0], shards[1], "--out", merged);
            Assert.True(m.ExitCode == 0, m.Stderr);
            Assert.Contains("6 images", m.Stdout);
            AssertSameOutputs(single, merged);
            Assert.Equal(File.ReadAllBytes(Path.Combine(single, "results.csv")), File.ReadAllBytes(Path.Combine(merged, "results.csv")));
            Assert.Equal(11, File.ReadAllLines(Path.Combine(merged, "results.jsonl")).Length);

            string resultsOnly = Path.Combine(root, "results-only");
            Assert.Equal(0, CliRunner.Run("merge", shards[0], shards[1], shards[2], "--out", resultsOnly, "--results-only", "-q").ExitCode);
            Assert.Equal(new[] { "results.csv", "results.jsonl", "results.run.jsonl" }, Files(resultsOnly).Keys.Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(input, true);
            Directory.Delete(root, true);
        }
    }

    [Theory]
    [InlineData("3/3", "from 0 to 2")]
    [InlineData("0/0", "at least 1")]
    [InlineData("1", "not I/N")]
    [InlineData("-1/2", "not I/N")]
    [InlineData("a/b", "not I/N")]
    [InlineData("1/2/3", "not I/N")]
    public void A_bad_shard_is_a_usage_error(string shard, string message)
    {
        string outDir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run("explain", Path.Combine(TestPaths.Samples, "cat.png"), "--model", Model, "--out", outDir, "--shard", shard);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(message, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
        finally { Directory.Delete(outDir, true); }
    }

    [Fact]
    public void Shard_needs_out()
    {
        var r = CliRunner.Run("explain", Path.Combine(TestPaths.Samples, "cat.png"), "--model", Model, "--shard", "0/2");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--shard needs --out", r.Stderr);
    }

    [Fact]
    public void Merge_refuses_mixed_overlapping_incomplete_and_differently_made_shards()
    {
        string input = TestPaths.NewTempDir(), root = TestPaths.NewTempDir();
        try
        {
            File.Copy(Path.Combine(TestPaths.Samples, "cat.png"), Path.Combine(input, "cat.png"));
            File.WriteAllBytes(Path.Combine(input, "gen.png"), Generated(3, 120, 90));
            string D(string name) => Path.Combine(root, name);
            CliResult Explain(string outDir, params string[] more) => CliRunner.Run(["explain", input, "--model", Model, "--out", D(outDir), "-q", .. more]);
            Assert.Equal(0, Explain("a0", "--shard", "0/2").ExitCode);
            Assert.Equal(0, Explain("a1", "--shard", "1/2").ExitCode);
            Assert.Equal(0, Explain("a0again", "--shard", "0/2").ExitCode);
            Assert.Equal(0, Explain("b1", "--shard", "1/2", "--sigma", "10").ExitCode);
            Assert.Equal(0, Explain("c2", "--shard", "2/3").ExitCode); // more shards than images: an empty shard
            Assert.Single(File.ReadAllLines(D("c2/results.csv")));
            Assert.Empty(File.ReadAllText(D("c2/results.jsonl")));

            void Refused(int code, string message, params string[] args)
            {
                var r = CliRunner.Run(["merge", .. args]);
                Assert.True(code == r.ExitCode, r.Stderr);
                Assert.Contains(message, r.Stderr);
                Assert.Single(r.Stderr.Trim().Split('\n'));
            }
            Refused(1, "the shards overlap", D("a0"), D("a0again"), D("a1"), "--out", D("m"));
            Refused(1, "other options", D("a0"), D("b1"), "--out", D("m"));
            // The default follows the weighted rules' map options.
            Refused(1, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"maps.sigma: {MapOptions.Weighted.Sigma} vs 10"), D("a0"), D("b1"), "--out", D("m"));
            Refused(1, "1 of 2 inputs are in no folder (input 1; shard 1/2)", D("a0"), "--out", D("m"));
            Refused(1, "shard 2/3 but", D("a0"), D("c2"), "--out", D("m"));
            Refused(1, "not the --out folder", input, "--out", D("m"));
            Refused(2, "is one of the folders to merge", D("a0"), D("a1"), "--out", D("a1"));
            Assert.False(Directory.Exists(D("m")));

            // The model is part of the run's identity: a shard made with another model is refused.
            string other = Path.Combine(TestPaths.TinyFixtures, "resnet18", "resnet18.onnx");
            Assert.Equal(0, CliRunner.Run("explain", input, "--model", other, "--out", D("o1"), "-q", "--shard", "1/2").ExitCode);
            Refused(1, "another model", D("a0"), D("o1"), "--out", D("m"));

            Assert.Equal(0, CliRunner.Run("merge", D("a0"), D("a1"), "--out", D("m"), "-q").ExitCode);
            Assert.Equal(3, File.ReadAllLines(D("m/results.csv")).Length);
        }
        finally
        {
            Directory.Delete(input, true);
            Directory.Delete(root, true);
        }
    }
}
