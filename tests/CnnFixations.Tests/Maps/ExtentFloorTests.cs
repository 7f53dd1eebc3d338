using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Tests.Cli;
using CnnFixations.Tests.Fixtures;

namespace CnnFixations.Tests.Maps;

/// <summary>
/// <c>--extent-floor</c>: the heat map raised to a fraction of the coarse blur made even at the borders. Expected values
/// are hand computed, or the map without the floor (what the floor must leave alone).
/// </summary>
public class ExtentFloorTests
{
    [Fact]
    public void The_floor_raises_each_pixel_to_its_share_of_the_normalized_extent()
    {
        // extent max 4: the floor 0.5 gives 0.5 * extent / 4 = 0.125, 0.25, 0.5, 0 per pixel.
        var heat = new[] { 1f, 0.1f, 0.3f, 0.05f };
        var extent = new[] { 1f, 2f, 4f, 0f };
        var result = HeatMap.WithFloor(heat, extent, 0.5);
        Assert.Same(heat, result);
        Assert.Equal(new[] { 1f, 0.25f, 0.5f, 0.05f }, result);
    }

    [Fact]
    public void A_zero_floor_or_an_empty_extent_leaves_the_map_and_a_floor_of_one_or_more_is_refused()
    {
        var heat = new[] { 1f, 0.2f };
        Assert.Equal(new[] { 1f, 0.2f }, HeatMap.WithFloor((float[])heat.Clone(), new[] { 0f, 3f }, 0));
        Assert.Equal(new[] { 1f, 0.2f }, HeatMap.WithFloor((float[])heat.Clone(), new[] { 0f, 0f }, 0.9));
        Assert.Throws<CnnFixationsException>(() => HeatMap.WithFloor(heat, new[] { 1f, 1f }, 1));
        Assert.Throws<CnnFixationsException>(() => HeatMap.WithFloor(heat, new[] { 1f, 1f }, -0.1));
    }

    [Fact]
    public void On_a_photo_the_floor_keeps_the_maximum_and_the_box_and_lifts_the_edges()
    {
        string photo = Path.Combine(TestPaths.Samples, "bird.png");
        string offDir = TestPaths.NewTempDir(), onDir = TestPaths.NewTempDir();
        var off = CliRunner.Run("explain", photo, "--out", offDir, "--extent-floor", "0", "-q");
        var on = CliRunner.Run("explain", photo, "--out", onDir, "-q");
        Assert.True(off.ExitCode == 0 && on.ExitCode == 0, off.Stderr + on.Stderr);
        var (_, a) = NpyFile.ReadFloat32(Path.Combine(offDir, "bird.heatmap.npy"));
        var (_, b) = NpyFile.ReadFloat32(Path.Combine(onDir, "bird.heatmap.npy"));
        Assert.Equal(a.Length, b.Length);
        // Never below the map without the floor, and the same maximum in the same place.
        for (int i = 0; i < a.Length; i++) Assert.True(b[i] >= a[i], $"pixel {i}: {b[i]} below {a[i]}");
        Assert.Equal(Array.IndexOf(a, a.Max()), Array.IndexOf(b, b.Max()));
        Assert.Equal(1f, b.Max());
        // The floor lifts the outer rows (the plain blurs fade there).
        Assert.True(b.Take(1000).Average() > a.Take(1000).Average() + 0.01, "the top rows are not lifted");
        // The box is thresholded on the plain coarse blur, so the floor does not move it.
        string BoxOf(string dir)
        {
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "bird.json")));
            return json.RootElement.GetProperty("box").GetRawText();
        }
        Assert.Equal(BoxOf(offDir), BoxOf(onDir));
    }

    [Fact]
    public void The_command_line_refuses_a_floor_outside_zero_to_one()
    {
        string photo = Path.Combine(TestPaths.Samples, "bird.png");
        var bad = CliRunner.Run("explain", photo, "--extent-floor", "1", "--out", TestPaths.NewTempDir());
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--extent-floor must lie in [0, 1)", bad.Stderr);
    }
}
