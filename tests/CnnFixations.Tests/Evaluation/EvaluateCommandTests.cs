using System.Text.Json;
using CnnFixations.Tests.Cli;

namespace CnnFixations.Tests.Evaluation;

public class EvaluateCommandTests
{
    private static string DevAnnotations => Path.Combine(TestPaths.Shared, "eval", "ilsvrc-dev", "annotations.csv");

    [SharedFact("eval/ilsvrc-dev/annotations.csv", "the ImageNet development images")]
    public void EvaluatesTheFirstThreeDevImages()
    {
        string outDir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run("evaluate", "--boxes", DevAnnotations, "--model", TestPaths.BundledModel, "--limit", "3", "--out", outDir);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("| fixations |", r.Stdout);
            Assert.Contains("| fixations (own box) |", r.Stdout);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
            var root = doc.RootElement;
            Assert.Equal(3, root.GetProperty("images").GetInt32());
            Assert.Equal(0.5, root.GetProperty("threshold").GetDouble());
            Assert.Equal(1, root.GetProperty("labelOffset").GetInt32()); // from the bundled model's metadata
            foreach (var name in new[] { "fixations", "fixations (own box)" })
            {
                var m = root.GetProperty("methods").GetProperty(name);
                double acc = m.GetProperty("topOneLocAccuracy").GetDouble();
                Assert.Equal(100, acc + m.GetProperty("topOneLocError").GetDouble(), 6);
                foreach (var key in new[] { "topOneLocAccuracy", "gtKnownLocAccuracy", "pointingGame" })
                    Assert.InRange(m.GetProperty(key).GetDouble(), 0, 100);
                foreach (var key in new[] { "deletionAuc", "insertionAuc" })
                    Assert.InRange(m.GetProperty(key).GetDouble(), 0, 1);
                var fixOnly = m.GetProperty("fixationOnlyAccuracy");
                Assert.Equal(new[] { "0.1", "0.3", "0.5" }, fixOnly.EnumerateObject().Select(p => p.Name).ToArray());
            }
            var csv = File.ReadAllLines(Path.Combine(outDir, "evaluation.csv"));
            Assert.Equal(1 + 3 * 2, csv.Length);
            Assert.StartsWith("image,method,", csv[0]);
            Assert.StartsWith("images/", csv[1]); // relative to the annotations' folder: nothing copied
            Assert.Contains(File.ReadAllText(Path.Combine(outDir, "evaluation.md")).TrimEnd(), r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(Directory.GetFiles(outDir), f => !Path.GetFileName(f).StartsWith("evaluation.", StringComparison.Ordinal));
        }
        finally { Directory.Delete(outDir, true); }
    }

    [Fact]
    public void WholeImageBoxOfThePredictedClassIsAPointingHit()
    {
        // The sample cat is classified as Egyptian cat (dataset class 285, model output 286); a box covering
        // the whole image must then be a pointing hit and a GT-known/top-1 hit only if the heat-map box is big.
        string outDir = TestPaths.NewTempDir();
        try
        {
            string cat = Path.Combine(TestPaths.Samples, "cat.png");
            var image = CnnFixations.Imaging.ImageLoader.Load(cat);
            string csv = Path.Combine(outDir, "gt.csv");
            File.WriteAllText(csv, $"image,class_index,xmin,ymin,xmax,ymax\n\"{cat}\",285,0,0,{image.Width - 1},{image.Height - 1}\n");
            var r = CliRunner.Run("evaluate", "--boxes", csv, "--model", TestPaths.BundledModel, "--out", outDir, "--quiet");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
            var m = doc.RootElement.GetProperty("methods").GetProperty("fixations");
            Assert.Equal(100, m.GetProperty("pointingGame").GetDouble());
            var row = File.ReadAllLines(Path.Combine(outDir, "evaluation.csv"))[1].Split(',');
            Assert.Equal("285", row[3]);  // predicted_class
            Assert.Equal("1", row[4]);    // label_right

            // With the offset forced to 0 the prediction reads as class 286: label wrong, so no pointing hit.
            r = CliRunner.Run("evaluate", "--boxes", csv, "--model", TestPaths.BundledModel, "--out", outDir, "--quiet", "--label-offset", "0");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var doc2 = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "evaluation.json")));
            m = doc2.RootElement.GetProperty("methods").GetProperty("fixations");
            Assert.Equal(0, m.GetProperty("pointingGame").GetDouble());
            Assert.Equal(100, m.GetProperty("topOneLocError").GetDouble());
        }
        finally { Directory.Delete(outDir, true); }
    }

    [Fact]
    public void UnknownMethodIsAUsageErrorListingTheAvailableOnes()
    {
        var r = CliRunner.Run("evaluate", "--boxes", "x.csv", "--methods", "fixations,gradcamx", "--out", "unused");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("gradcamx", r.Stderr);
        Assert.Contains("available: fixations", r.Stderr);
    }

    [Fact]
    public void BadInputsFailWithOneLine()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            var r = CliRunner.Run("evaluate", "--boxes", dir, "--out", Path.Combine(dir, "out"));
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("--synsets", r.Stderr);
            Assert.Single(r.Stderr.TrimEnd().Split('\n'));
            Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", dir, "--out", dir, "--threshold", "0").ExitCode);
            Assert.Equal(2, CliRunner.Run("evaluate", "--boxes", dir, "--out", dir, "--limit", "0").ExitCode);
            Assert.Equal(2, CliRunner.Run("evaluate", "--out", dir).ExitCode);
        }
        finally { Directory.Delete(dir, true); }
    }
}
