using System.Text.Json;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Evaluation;

public class EvaluateExtensionsTests
{
    private static string DevAnnotations => Path.Combine(TestPaths.Shared, "eval", "ilsvrc-dev", "annotations.csv");

    [Fact]
    public void AnUnreadableImageIsAnErrorRowAndTheRunGoesOn()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string cat = Path.Combine(TestPaths.Samples, "cat.png");
            var image = CnnFixations.Imaging.ImageLoader.Load(cat);
            string broken = Path.Combine(dir, "broken.png");
            File.WriteAllText(broken, "not an image");
            string csv = Path.Combine(dir, "gt.csv");
            File.WriteAllText(csv, "image,class_index,xmin,ymin,xmax,ymax\n" +
                $"broken.png,1,0,0,5,5\n\"{cat}\",285,0,0,{image.Width - 1},{image.Height - 1}\nmissing.png,2,0,0,5,5\n");
            string outDir = Path.Combine(dir, "out");
            var r = CliRunner.Run("evaluate", "--boxes", csv, "--model", TestPaths.BundledModel, "--methods", "center,whole-image", "--out", outDir, "--quiet");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("2 images or collages could not be evaluated", r.Stderr);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
            var root = doc.RootElement;
            Assert.Equal(1, root.GetProperty("images").GetInt32());
            Assert.Equal(2, root.GetProperty("errors").GetInt32());
            var errors = root.GetProperty("errorImages").EnumerateArray().ToList();
            Assert.Equal("broken.png", errors[0].GetProperty("image").GetString());
            Assert.Equal("missing.png", errors[1].GetProperty("image").GetString());
            var lines = File.ReadAllLines(Path.Combine(outDir, "evaluation.csv"));
            var header = lines[0].Split(',');
            int error = Array.IndexOf(header, "error");
            Assert.Equal(header.Length - 1, error);
            Assert.Equal(1 + 1 + 2 + 1, lines.Length); // header, broken, cat x 2 methods, missing
            Assert.StartsWith("broken.png,,", lines[1]);
            Assert.NotEmpty(lines[1].Split(',')[error]);
            Assert.StartsWith("missing.png,,", lines[4]);
            Assert.Contains("could not be evaluated", File.ReadAllText(Path.Combine(outDir, "evaluation.md")));

            // The flat whole-image map points at the image centre: inside the whole-image box, strict or not.
            var whole = root.GetProperty("methods").GetProperty("whole-image");
            Assert.Equal(100, whole.GetProperty("pointingStrict").GetDouble());
            Assert.Equal(1, whole.GetProperty("top2Correlation").GetDouble());
            Assert.Equal(100, whole.GetProperty("gtKnownLocAccuracy").GetDouble());

            // Same inputs, same bytes.
            byte[] first = File.ReadAllBytes(Path.Combine(outDir, "evaluation.json"));
            r = CliRunner.Run("evaluate", "--boxes", csv, "--model", TestPaths.BundledModel, "--methods", "center,whole-image", "--out", outDir, "--quiet");
            Assert.Equal(first, File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void EvaluateTakesExplainsMethodOptions()
    {
        var r = CliRunner.Run("evaluate", "--boxes", "x.csv", "--out", "unused", "--crops", "five");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--crops five", r.Stderr);
        Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", "x.csv", "--out", "unused", "--sigma", "0").ExitCode);
        Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", "x.csv", "--out", "unused", "--conv-position", "sideways").ExitCode);
        Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", "x.csv", "--out", "unused", "--grid", "1").ExitCode);
        Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", "x.csv", "--out", "unused", "--box-threshold", "1.5").ExitCode);
    }

    [SharedFact("eval/ilsvrc-dev/annotations.csv")]
    public void GridRandomizationAndNewColumnsOnDevImages()
    {
        string outDir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run("evaluate", "--boxes", DevAnnotations, "--model", TestPaths.BundledModel, "--limit", "8",
                "--methods", "fixations,cam,center,whole-image", "--grid", "2", "--grid-count", "1",
                "--randomization", "1", "--randomization-depths", "1", "--conv-position", "refine", "--out", outDir, "--quiet");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("Grid pointing game", r.Stdout);
            Assert.Contains("Randomization check", r.Stdout);
            Assert.Contains("Small objects", r.Stdout);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
            var root = doc.RootElement;
            Assert.Equal(1, root.GetProperty("grid").GetProperty("collages").GetProperty("2x2").GetInt32());
            var methods = root.GetProperty("methods");
            foreach (var name in new[] { "center", "whole-image" })
            {
                var g = methods.GetProperty(name).GetProperty("grid").GetProperty("2x2");
                Assert.Equal(4, g.GetProperty("targets").GetInt32());
                Assert.Equal(25, g.GetProperty("maxInTile").GetDouble()); // the centre pixel of 224x224 is in tile 0
                Assert.Equal(1, methods.GetProperty(name).GetProperty("randomization").GetProperty("1").GetProperty("spearman").GetDouble());
            }
            Assert.Equal(0.25, methods.GetProperty("whole-image").GetProperty("grid").GetProperty("2x2").GetProperty("massInTile").GetDouble(), 6);
            Assert.Equal(0.25, methods.GetProperty("center").GetProperty("grid").GetProperty("2x2").GetProperty("massInTile").GetDouble(), 3);
            // CAM reads the classifier weights directly: randomizing them changes its map
            Assert.True(methods.GetProperty("cam").GetProperty("randomization").GetProperty("1").GetProperty("spearman").GetDouble() < 0.9);
            foreach (var name in new[] { "fixations", "cam" })
            {
                var m = methods.GetProperty(name);
                Assert.InRange(m.GetProperty("pointingStrict").GetDouble(), 0, m.GetProperty("pointingGame").GetDouble());
                Assert.InRange(m.GetProperty("top2Correlation").GetDouble(), -1, 1);
                Assert.True(m.GetProperty("smallObjects").GetProperty("images").GetInt32() <= 8);
            }
            var csv = File.ReadAllLines(Path.Combine(outDir, "evaluation.csv"));
            var header = csv[0].Split(',');
            int collage = Array.IndexOf(header, "grid_collage"), spearman = Array.IndexOf(header, "spearman");
            Assert.Equal(4 * 4, csv.Count(l => l.Split(',')[collage] == "2x2 #1"));
            Assert.Equal(4, csv.Skip(1).Count(l => l.Split(',')[spearman].Length > 0));
        }
        finally { Directory.Delete(outDir, true); }
    }
}
