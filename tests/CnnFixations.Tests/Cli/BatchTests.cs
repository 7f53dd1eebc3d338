using System.Text.Json;

namespace CnnFixations.Tests.Cli;

public class BatchTests
{
    private static string Sample(string name) => Path.Combine(TestPaths.Samples, name);

    private static string ImageFolder()
    {
        string dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.Copy(Sample("cat.png"), Path.Combine(dir, "cat.png"));
        File.Copy(Sample("bird.png"), Path.Combine(dir, "sub", "bird.png"));
        File.WriteAllText(Path.Combine(dir, "broken.jpg"), "this is not a JPEG");
        return dir;
    }

    [Fact]
    public void A_folder_run_mirrors_the_tree_records_the_corrupt_file_and_fails_at_the_end()
    {
        string input = ImageFolder(), output = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", input, "--recursive", "--out", output, "--jobs", "2");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("2 of 3 images explained, 1 failed", r.Stdout);
        Assert.Contains("broken.jpg", r.Stderr);
        Assert.True(File.Exists(Path.Combine(output, "cat.overlay.png")));
        Assert.True(File.Exists(Path.Combine(output, "sub", "bird.json")));
        Assert.Empty(Directory.GetFiles(output, "broken*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));

        var rows = File.ReadAllLines(Path.Combine(output, "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, rows.Count);
        // Input order: broken.jpg, cat.png, sub/bird.png (ordinal).
        Assert.Contains("broken.jpg", rows[0].GetProperty("image").GetString());
        Assert.True(rows[0].TryGetProperty("error", out _));
        Assert.Equal(286, rows[1].GetProperty("target").GetProperty("index").GetInt32());
        Assert.Equal(20, rows[2].GetProperty("target").GetProperty("index").GetInt32());

        var csv = File.ReadAllLines(Path.Combine(output, "results.csv"));
        Assert.Equal("file,top1_index,top1_label,top1_score,box_xmin,box_ymin,box_xmax,box_ymax,error", csv[0]);
        Assert.Equal(4, csv.Length);
        Assert.Contains(",286,Egyptian cat,", csv[2]);
        Assert.EndsWith(",", csv[2]);
    }

    [Fact]
    public void Skip_existing_resumes_without_recomputing_and_gives_the_same_results()
    {
        string input = ImageFolder(), output = TestPaths.NewTempDir();
        File.Delete(Path.Combine(input, "broken.jpg"));
        Assert.Equal(0, CliRunner.Run("explain", input, "-r", "--out", output).ExitCode);
        string first = File.ReadAllText(Path.Combine(output, "results.jsonl"));
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(output, "cat.json"));
        var r = CliRunner.Run("explain", input, "-r", "--out", output, "--skip-existing");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("2 skipped as done", r.Stdout);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(output, "cat.json")));
        Assert.Equal(first, File.ReadAllText(Path.Combine(output, "results.jsonl")));
    }

    [Fact]
    public void Globs_select_files_and_output_names_stay_inside_the_output_folder()
    {
        string input = ImageFolder(), output = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Path.Combine(input, "**", "*.png"), "--out", output);
        Assert.Equal(0, r.ExitCode);
        Assert.True(File.Exists(Path.Combine(output, "cat.json")));
        Assert.True(File.Exists(Path.Combine(output, "sub", "bird.json")));
        var everything = Directory.GetFiles(output, "*", SearchOption.AllDirectories);
        Assert.All(everything, f => Assert.StartsWith(Path.GetFullPath(output), Path.GetFullPath(f)));
    }

    [Fact]
    public void Start_from_an_inner_channel_walks_from_that_tensor()
    {
        var r = CliRunner.Run("explain", Sample("cat.png"), "--start", "MobilenetV2/expanded_conv_16/project/add_fold:5", "--json", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var target = doc.RootElement.GetProperty("target");
        Assert.Equal("MobilenetV2/expanded_conv_16/project/add_fold", target.GetProperty("tensor").GetString());
        Assert.True(target.GetProperty("neurons").GetInt32() > 0);
        Assert.True(doc.RootElement.GetProperty("inputFixations").GetArrayLength() > 0);

        var bad = CliRunner.Run("explain", Sample("cat.png"), "--start", "no/such/tensor:1");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("no/such/tensor", bad.Stderr);
    }

    [Fact]
    public void Layers_writes_a_contact_sheet_and_one_picture_per_layer()
    {
        string output = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Sample("bird.png"), "--out", output, "--layers", "--rules", "paper");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(new FileInfo(Path.Combine(output, "bird.layers.png")).Length > 1000);
        var pictures = Directory.GetFiles(Path.Combine(output, "bird.layers"), "*.png");
        Assert.True(pictures.Length > 5);
        Assert.Contains(pictures, p => p.EndsWith("_input.png"));
    }

    [Fact]
    public void Five_crop_pools_the_points_of_the_agreeing_crops()
    {
        var r = CliRunner.Run("explain", Sample("bird.png"), "--crops", "five", "--json", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(20, root.GetProperty("target").GetProperty("index").GetInt32());
        var crops = root.GetProperty("crops");
        Assert.InRange(crops.GetArrayLength(), 1, 5);
        int pooled = crops.EnumerateArray().Sum(c => c.GetProperty("inputFixations").GetArrayLength());
        Assert.Equal(pooled, root.GetProperty("points").GetArrayLength()); // duplicates are not merged
        Assert.All(crops.EnumerateArray(), c => Assert.DoesNotContain("mirrored", c.GetProperty("crop").GetString()));
    }

    [Fact]
    public void Center_crop_maps_points_inside_the_central_square()
    {
        var r = CliRunner.Run("explain", Sample("bird.png"), "--crops", "center", "--json", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        // bird.png is 512x343: short side 343 -> 256, width 382; the 224 centre crop starts at x = 79 of 382,
        // i.e. original x in [79*512/382, 303*512/382) = [105, 406).
        foreach (var p in doc.RootElement.GetProperty("points").EnumerateArray())
            Assert.InRange(p[0].GetInt32(), 105, 406);
    }
}

public class MethodOptionTests
{
    [Fact]
    public void Method_all_writes_one_overlay_per_method_and_a_side_by_side_sheet()
    {
        string output = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Path.Combine(TestPaths.Samples, "cat.png"), "--method", "all", "--out", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var f in new[] { "cat.overlay.png", "cat.cam.overlay.png", "cat.gradcam.overlay.png", "cat.gradient.overlay.png", "cat.methods.png", "cat.gradcam.json", "cat.json" })
            Assert.True(File.Exists(Path.Combine(output, f)), "missing " + f);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "cat.gradcam.json")));
        Assert.Equal("gradcam", doc.RootElement.GetProperty("method").GetString());
        Assert.Equal(286, doc.RootElement.GetProperty("target").GetProperty("index").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("box").GetArrayLength());
    }

    [Fact]
    public void Method_all_with_report_shows_the_methods_sheet_and_the_page_says_it_is_a_folder()
    {
        string output = TestPaths.NewTempDir();
        var r = CliRunner.Run("explain", Path.Combine(TestPaths.Samples, "cat.png"), "--method", "all", "--out", output, "--report", "--colormap", "viridis");
        Assert.True(r.ExitCode == 0, r.Stderr);
        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("src=\"cat.methods.png\"", html);
        Assert.Contains("copy or move the folder as a whole", html);
    }

    [Fact]
    public void Cam_on_a_model_without_global_pooling_says_it_does_not_apply()
    {
        var fixture = new CnnFixations.Tests.Fixtures.TinyFixture("vgg16", "vgg16.onnx");
        var r = CliRunner.Run("explain", "--model", fixture.ModelPath, "--input-tensor", fixture.InputPath, "--method", "cam");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cam does not apply", r.Stderr);
    }
}
