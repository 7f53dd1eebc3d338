using CnnFixations.Imaging;
using CnnFixations.Tests.Cli;
using SkiaSharp;
using static CnnFixations.Tests.Imaging.TestImageFiles;

namespace CnnFixations.Tests.Robustness;

/// <summary>
/// Bad arguments through the command line: usage errors (options wrong in themselves or together)
/// exit with 2, inputs that turn out wrong (a class the model does not have, an unwritable folder, a
/// bad tensor file) with 1; each with one line saying what is wrong.
/// </summary>
public sealed class ArgumentTests : IClassFixture<Scratch>
{
    private readonly Scratch _s;
    private readonly string _image;

    public ArgumentTests(Scratch scratch)
    {
        _s = scratch;
        string path = Path.Combine(_s.Dir, "arg.png");
        if (!File.Exists(path))
        {
            using var bitmap = Bitmap(20, 20, (x, y) => ((byte)(9 * x), (byte)(11 * y), 90));
            File.WriteAllBytes(path, Encode(bitmap, SKEncodedImageFormat.Png));
        }
        _image = path;
    }

    private CliResult Explain(params string[] more) =>
        CliRunner.Run(new[] { "explain", "--model", _s.Model }.Concat(more).ToArray());

    private string Labels(params string[] names) => _s.File($"labels{Guid.NewGuid():N}.txt", System.Text.Encoding.UTF8.GetBytes(string.Join("\n", names) + "\n"));

    private string Npy(string name, int[] shape)
    {
        string path = Path.Combine(_s.NewDir(), name);
        using var f = File.Create(path);
        NpyFile.WriteFloat32(f, shape, new float[Enumerable.Aggregate(shape, 1, (a, b) => a * b)]);
        return path;
    }

    [Fact]
    public void Unknown_class_name()
    {
        string labels = Labels("tabby cat", "golden retriever", "goldfish");
        Expect.Failure(Explain(_image, "--labels", labels, "--class", "unicorn"), 1, "unknown class name 'unicorn'");
        // A near miss is suggested.
        Expect.Failure(Explain(_image, "--labels", labels, "--class", "golden"), 1, "unknown class name 'golden'", "'golden retriever' (1)");
        // Without labels a name cannot be resolved.
        Expect.Failure(Explain(_image, "--class", "cat"), 1, "'cat' is not an index", "no labels");
        // A name that is found works.
        Assert.Equal(0, Explain(_image, "--labels", labels, "--class", "GOLDFISH", "--quiet").ExitCode);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("-1")]
    [InlineData("99999999999")]
    public void Class_index_out_of_range(string index)
    {
        Expect.Failure(Explain(_image, "--class", index), 1, $"class index {index} is out of range", "3 classes (0..2)");
    }

    [Theory]
    [InlineData("--class|1|--top-k|2", "exclusive")]
    [InlineData("--input-tensor|t.npy", "not both")]
    [InlineData("--preset|caffe|--input-tensor|t.npy|--images-none", "--preset")]
    [InlineData("--top-k|0", "--top-k must be at least 1")]
    [InlineData("--sigma|-3", "--sigma")]
    [InlineData("--alpha|2", "--alpha")]
    [InlineData("--box-threshold|0", "--box-threshold")]
    [InlineData("--max-pixels|0", "--max-pixels")]
    [InlineData("--size|0x5", "--size '0x5'")]
    [InlineData("--size|12x", "--size '12x'")]
    [InlineData("--conv-position|middle", "middle")]
    [InlineData("--top-k|many", "many")]
    public void Conflicting_or_malformed_options_are_usage_errors(string options, string expected)
    {
        var args = options.Split('|').ToList();
        bool noImage = args.Remove("--images-none");
        if (!noImage) args.Insert(0, _image);
        Expect.Failure(Explain(args.ToArray()), 2, expected);
    }

    [Fact]
    public void Size_conflicting_with_a_fixed_input_is_a_usage_error()
    {
        Expect.Failure(Explain(_image, "--size", "32x32"), 2, "--size 32x32", "16x16");
    }

    [Fact]
    public void Output_folder_under_a_regular_file_is_not_writable()
    {
        // Root may write anywhere, but no one can create a folder inside a regular file.
        string file = _s.File("occupied", [1, 2, 3]);
        string outDir = Path.Combine(file, "sub");
        Expect.Failure(Explain(_image, "--out", outDir), 1, outDir, "not writable");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(file));
    }

    [Fact]
    public void Json_file_under_a_regular_file_is_not_writable()
    {
        string file = _s.File("occupied-json", [4, 5]);
        string json = Path.Combine(file, "r.json");
        Expect.Failure(Explain(_image, "--json", json), 1, json, "cannot write");
    }

    [Fact]
    public void Input_tensor_that_is_not_npy()
    {
        string path = _s.File("tensor.npy", System.Text.Encoding.ASCII.GetBytes("1,2,3\n4,5,6\n"));
        Expect.Failure(Explain("--input-tensor", path), 1, path, "not a .npy file");
        string missing = Path.Combine(_s.Dir, "absent.npy");
        Expect.Failure(Explain("--input-tensor", missing), 1, missing, "not found");
    }

    [Fact]
    public void Input_tensor_with_a_wrong_shape()
    {
        string rank3 = Npy("rank3.npy", new[] { 3, 16, 16 });
        Expect.Failure(Explain("--input-tensor", rank3), 1, rank3, "[3,16,16]", "[1,C,H,W]");
        string batch2 = Npy("batch2.npy", new[] { 2, 3, 16, 16 });
        Expect.Failure(Explain("--input-tensor", batch2), 1, batch2, "[2,3,16,16]");
        string small = Npy("small.npy", new[] { 1, 3, 8, 8 });
        Expect.Failure(Explain("--input-tensor", small), 1, "[1,3,8,8]", "expects [1,3,16,16]");
    }

    [Fact]
    public void Input_tensor_with_a_wrong_dtype_or_truncated()
    {
        string path = Npy("ok.npy", new[] { 1, 3, 16, 16 });
        var bytes = File.ReadAllBytes(path);
        string cut = _s.File("cut.npy", bytes[..(bytes.Length - 10)]);
        Expect.Failure(Explain("--input-tensor", cut), 1, cut, "truncated");
        var text = System.Text.Encoding.Latin1.GetString(bytes).Replace("<f4", "<i4");
        string ints = _s.File("ints.npy", System.Text.Encoding.Latin1.GetBytes(text));
        Expect.Failure(Explain("--input-tensor", ints), 1, ints, "'<i4'");
    }
}
