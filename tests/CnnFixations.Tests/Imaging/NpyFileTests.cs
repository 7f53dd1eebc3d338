using System.Buffers.Binary;
using System.Text;
using CnnFixations.Imaging;

namespace CnnFixations.Tests.Imaging;

public sealed class NpyFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A .npy file: magic, version, header length (2 bytes for 1.x, 4 for 2.x), header text, data.</summary>
    private string Npy(string name, int major, string header, byte[] data)
    {
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)major);
        bytes.Add(0);
        var len = new byte[major == 1 ? 2 : 4];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)header.Length);
        bytes.AddRange(len);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    private static byte[] Floats(params float[] v) => v.SelectMany(f => { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, f); return b; }).ToArray();

    [Fact]
    public void WrittenFileHasTheVersion1HeaderNumpyWrites()
    {
        using var ms = new MemoryStream();
        NpyFile.WriteFloat32(ms, [2, 3], new float[] { 1.5f, -2, 0, 3, 4, 5 });
        var b = ms.ToArray();
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, b[..8]);
        int headerLength = b[8] | b[9] << 8;
        // The dictionary is 59 characters; 10 + 59 + 1 (newline) = 70, rounded up to 128: 118 header bytes.
        Assert.Equal(118, headerLength);
        string header = Encoding.ASCII.GetString(b, 10, headerLength);
        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".PadRight(117) + "\n", header);
        Assert.Equal(128 + 24, b.Length);
        // 1.5f is 0x3FC00000, stored little-endian.
        Assert.Equal(new byte[] { 0x00, 0x00, 0xC0, 0x3F }, b[128..132]);
    }

    [Fact]
    public void OneDimensionalShapeIsWrittenAsAOneTuple()
    {
        using var ms = new MemoryStream();
        NpyFile.WriteFloat32(ms, [5], new float[5]);
        Assert.Contains("'shape': (5,), }", Encoding.ASCII.GetString(ms.ToArray()));
        Assert.Equal(0, (ms.Length - 20) % 64);
    }

    [Fact]
    public void RoundTripKeepsShapeAndValues()
    {
        var data = new float[] { 1, -0.5f, float.MaxValue, float.Epsilon, 0, 1e-3f, 7, 8, 9, 10, 11, 12 };
        string path = Path.Combine(_dir, "a.npy");
        using (var f = File.Create(path)) NpyFile.WriteFloat32(f, [1, 3, 2, 2], data);
        var (shape, read) = NpyFile.ReadFloat32(path);
        Assert.Equal(new[] { 1, 3, 2, 2 }, shape);
        Assert.Equal(data, read);
    }

    [Fact]
    public void HandWrittenFloat32FileIsRead()
    {
        string path = Npy("h.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", Floats(0.25f, -1, 2));
        var (shape, data) = NpyFile.ReadFloat32(path);
        Assert.Equal(new[] { 3 }, shape);
        Assert.Equal(new[] { 0.25f, -1f, 2f }, data);
    }

    [Fact]
    public void Float64IsConvertedAndVersion2IsRead()
    {
        var data = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(data, 0.1);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8), -3);
        string path = Npy("d.npy", 2, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1, 2)}   \n", data);
        var (shape, values) = NpyFile.ReadFloat32(path);
        Assert.Equal(new[] { 1, 2 }, shape);
        Assert.Equal(new[] { 0.1f, -3f }, values);
    }

    [Fact]
    public void ScalarHasEmptyShapeAndOneValue()
    {
        string path = Npy("s.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", Floats(42));
        var (shape, data) = NpyFile.ReadFloat32(path);
        Assert.Empty(shape);
        Assert.Equal(new[] { 42f }, data);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "Fortran")]
    [InlineData("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", ">f4")]
    [InlineData("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "<i4")]
    [InlineData("{'descr': '<f4', 'shape': (2,), }", "fortran_order")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", "shape")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "truncated")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "after the data")]
    public void UnsupportedOrBrokenFilesAreReported(string header, string expected)
    {
        string path = Npy("bad.npy", 1, header + "\n", Floats(1, 2));
        var e = Assert.Throws<CnnFixationsException>(() => NpyFile.ReadFloat32(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void NonNpyAndMissingFilesAreReported()
    {
        string text = Path.Combine(_dir, "t.npy");
        File.WriteAllText(text, "hello, not numpy");
        Assert.Contains("magic", Assert.Throws<CnnFixationsException>(() => NpyFile.ReadFloat32(text)).Message);
        Assert.Throws<CnnFixationsException>(() => NpyFile.ReadFloat32(Path.Combine(_dir, "none.npy")));
    }

    [Fact]
    public void WritingChecksTheShapeAgainstTheData()
    {
        Assert.Throws<CnnFixationsException>(() => NpyFile.WriteFloat32(new MemoryStream(), [2, 2], new float[3]));
    }
}
