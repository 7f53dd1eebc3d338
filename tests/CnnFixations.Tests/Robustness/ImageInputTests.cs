using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using CnnFixations.Imaging;
using CnnFixations.Tests.Cli;
using SkiaSharp;
using static CnnFixations.Tests.Imaging.TestImageFiles;

namespace CnnFixations.Tests.Robustness;

/// <summary>
/// Bad and unusual image files through the command line: each bad one fails with exit code 1 and one
/// line naming the file and what is wrong; each unusual but valid one is explained.
/// </summary>
public sealed class ImageInputTests : IClassFixture<Scratch>
{
    private readonly Scratch _s;

    public ImageInputTests(Scratch scratch) => _s = scratch;

    private CliResult Explain(string image, params string[] more) =>
        CliRunner.Run(new[] { "explain", image, "--model", _s.Model, "--json", "-" }.Concat(more).ToArray());

    private static byte[] RandomPixels(SKEncodedImageFormat format, int width = 48, int height = 40)
    {
        var random = new Random(3);
        using var bitmap = Bitmap(width, height, (_, _) => ((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        return Encode(bitmap, format, 90);
    }

    [Fact]
    public void Missing_file()
    {
        string path = Path.Combine(_s.Dir, "absent.jpg");
        Expect.Failure(Explain(path), 1, path, "does not exist");
    }

    [Fact]
    public void Empty_file()
    {
        string path = _s.File("empty.png", []);
        Expect.Failure(Explain(path), 1, path, "empty");
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "cut.png")]
    [InlineData(SKEncodedImageFormat.Jpeg, "cut.jpg")]
    public void Truncated_file(SKEncodedImageFormat format, string name)
    {
        var bytes = RandomPixels(format);
        string path = _s.File(name, bytes[..(bytes.Length * 2 / 3)]);
        Expect.Failure(Explain(path), 1, path, "truncated");
    }

    [Fact]
    public void Truncated_inside_the_header()
    {
        var bytes = RandomPixels(SKEncodedImageFormat.Png);
        string path = _s.File("head.png", bytes[..20]);
        Expect.Failure(Explain(path), 1, path);
    }

    [Fact]
    public void Text_file_named_jpg()
    {
        string path = _s.File("notes.jpg", Encoding.UTF8.GetBytes("Shopping list:\n- milk\n- bread\n"));
        Expect.Failure(Explain(path), 1, path, "not a supported image");
    }

    [Theory]
    [InlineData("TIFF", "scan.tif")]
    [InlineData("PDF", "paper.jpg")]
    [InlineData("AVIF", "photo.avif")]
    public void Unsupported_format_is_named(string format, string name)
    {
        byte[] bytes = format switch
        {
            // Little-endian TIFF header with one empty IFD.
            "TIFF" => [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "PDF" => Encoding.ASCII.GetBytes("%PDF-1.4\n%\u00e2\u00e3\n1 0 obj\n<<>>\nendobj\n"),
            _ => [0, 0, 0, 0x1C, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'a', (byte)'v', (byte)'i', (byte)'f', 0, 0, 0, 0],
        };
        string path = _s.File(name, bytes);
        Expect.Failure(Explain(path), 1, path, format, "not supported");
    }

    [Fact]
    public void Decompression_bomb_is_refused_before_decoding_with_its_size()
    {
        // A 20000x20000 RGB PNG (4e8 pixels, more than the default limit of 1e8) whose IHDR has a valid
        // CRC but whose single IDAT holds two rows: decoding it would need 1.6 GB before finding out.
        var png = Png(20000, 20000, 8, 2, [new byte[3 * 20000], new byte[3 * 20000]]);
        Assert.True(png.Length < 2000, $"the bomb is {png.Length} bytes");
        string path = _s.File("bomb.png", png);
        Expect.Failure(Explain(path), 1, path, "20000x20000", "400000000 pixels", "100000000");

        // The limit is an option: a lower one refuses a small image the same way.
        string small = _s.File("small.png", RandomPixels(SKEncodedImageFormat.Png, 40, 30));
        Expect.Failure(Explain(small, "--max-pixels", "1000"), 1, "40x30", "1200 pixels", "1000");
    }

    [Fact]
    public void Cmyk_jpeg_is_decoded_to_rgb()
    {
        // tests/fixtures/images/cmyk.jpg: 32x16, left half red, right half blue, stored as CMYK (see README.md there).
        string path = Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "images", "cmyk.jpg");
        var image = ImageLoader.Load(path);
        Assert.Equal((32, 16), (image.Width, image.Height));
        var (r, g, b) = image[4, 8];
        Assert.True(r > 200 && g < 60 && b < 60, $"left half should be red, got {(r, g, b)}");
        (r, g, b) = image[28, 8];
        Assert.True(r < 60 && g < 60 && b > 200, $"right half should be blue, got {(r, g, b)}");

        var json = Expect.Success(Explain(path));
        Assert.Equal(32, json.GetProperty("width").GetInt32());
    }

    public static TheoryData<string, int, int> PngKinds() => new()
    {
        { "gray8", 5, 4 },
        { "gray16", 5, 4 },
        { "rgb16", 5, 4 },
        { "palette", 5, 4 },
        { "rgba", 5, 4 },
        { "gray-alpha", 5, 4 },
    };

    [Theory]
    [MemberData(nameof(PngKinds))]
    public void Unusual_png_pixel_formats_are_explained(string kind, int width, int height)
    {
        byte[][] Rows(int bytesPerPixel) =>
            Enumerable.Range(0, height).Select(y => Enumerable.Range(0, width * bytesPerPixel).Select(i => (byte)(37 * y + 11 * i)).ToArray()).ToArray();
        var png = kind switch
        {
            "gray8" => Png(width, height, 8, 0, Rows(1)),
            "gray16" => Png(width, height, 16, 0, Rows(2)),
            "rgb16" => Png(width, height, 16, 2, Rows(6)),
            "palette" => Png(width, height, 8, 3, Rows(1).Select(r => r.Select(v => (byte)(v % 3)).ToArray()).ToArray(), [255, 0, 0, 0, 255, 0, 0, 0, 255]),
            "rgba" => Png(width, height, 8, 6, Rows(4)),
            _ => Png(width, height, 8, 4, Rows(2)),
        };
        var json = Expect.Success(Explain(_s.File(kind + ".png", png)));
        Assert.Equal(width, json.GetProperty("width").GetInt32());
        Assert.Equal(height, json.GetProperty("height").GetInt32());
        AssertPointsInside(json, width, height);
    }

    [Theory]
    [InlineData(1, 48, 32)]
    [InlineData(2, 48, 32)]
    [InlineData(3, 48, 32)]
    [InlineData(4, 48, 32)]
    [InlineData(5, 32, 48)]
    [InlineData(6, 32, 48)]
    [InlineData(7, 32, 48)]
    [InlineData(8, 32, 48)]
    public void Every_exif_orientation_is_explained_upright(int orientation, int width, int height)
    {
        var jpeg = WithExifOrientation(RandomPixels(SKEncodedImageFormat.Jpeg, 48, 32), orientation);
        var json = Expect.Success(Explain(_s.File($"exif{orientation}.jpg", jpeg)));
        Assert.Equal(width, json.GetProperty("width").GetInt32());
        Assert.Equal(height, json.GetProperty("height").GetInt32());
        AssertPointsInside(json, width, height);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(10000, 10)]
    [InlineData(10, 10000)]
    public void Extreme_sizes_are_explained(int width, int height)
    {
        var json = Expect.Success(Explain(_s.File($"size{width}x{height}.png", RandomPixels(SKEncodedImageFormat.Png, width, height))));
        Assert.Equal(width, json.GetProperty("width").GetInt32());
        Assert.Equal(height, json.GetProperty("height").GetInt32());
        AssertPointsInside(json, width, height);
        if (json.GetProperty("box").ValueKind == JsonValueKind.Array)
        {
            var box = json.GetProperty("box").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.True(box[0] >= 0 && box[1] >= 0 && box[2] < width && box[3] < height && box[0] <= box[2] && box[1] <= box[3], string.Join(",", box));
        }
    }

    [Fact]
    public void Extreme_sizes_write_heat_maps_of_the_image_size()
    {
        string dir = _s.NewDir();
        string image = _s.File("wide.png", RandomPixels(SKEncodedImageFormat.Png, 10000, 10));
        var r = CliRunner.Run("explain", image, "--model", _s.Model, "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var (shape, heat) = NpyFile.ReadFloat32(Path.Combine(dir, "wide.heatmap.npy"));
        Assert.Equal(new[] { 10, 10000 }, shape);
        Assert.All(heat, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1));
    }

    [Fact]
    public void A_bad_image_among_good_ones_fails_the_run_but_keeps_the_good_outputs()
    {
        string dir = _s.NewDir();
        string good = _s.File("good.png", RandomPixels(SKEncodedImageFormat.Png));
        string bad = _s.File("bad.png", Encoding.ASCII.GetBytes("not a picture"));
        string alsoGood = _s.File("also.jpg", RandomPixels(SKEncodedImageFormat.Jpeg));
        var r = CliRunner.Run("explain", good, bad, alsoGood, "--model", _s.Model, "--out", dir);
        Expect.Failure(r, 1, bad, "not a supported image");
        Assert.True(File.Exists(Path.Combine(dir, "good.overlay.png")));
        Assert.True(File.Exists(Path.Combine(dir, "also.json")));
        Assert.False(File.Exists(Path.Combine(dir, "bad.json")));
    }

    internal static void AssertPointsInside(JsonElement json, int width, int height)
    {
        foreach (var p in json.GetProperty("points").EnumerateArray())
        {
            int x = p[0].GetInt32(), y = p[1].GetInt32();
            Assert.True(x >= 0 && x < width && y >= 0 && y < height, $"point ({x}, {y}) outside {width}x{height}");
        }
    }
}
