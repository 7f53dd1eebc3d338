using CnnFixations.Maps;

namespace CnnFixations.Tests.Maps;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WritesAndReplaces()
    {
        string path = Path.Combine(_dir, "out.bin");
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        AtomicFile.Write(path, s => s.Write([9, 8]));
        Assert.Equal(new byte[] { 9, 8 }, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void EmptyContentMakesAnEmptyFile()
    {
        string path = Path.Combine(_dir, "empty.bin");
        AtomicFile.WriteAllBytes(path, ReadOnlySpan<byte>.Empty);
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void FailureLeavesTheOldFileAndNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "out.bin");
        File.WriteAllBytes(path, [7]);
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write([1, 2, 3, 4]);
            // The temporary file exists while writing, hidden, beside the target.
            var temp = Directory.GetFiles(_dir).Single(f => f != path);
            Assert.Matches(@"^\.out\.bin\..+\.tmp$", Path.GetFileName(temp));
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.Equal("disk on fire", e.Message);
        Assert.Equal(new byte[] { 7 }, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void MissingFolderFailsWithoutLeftovers()
    {
        string path = Path.Combine(_dir, "no", "such", "out.bin");
        var e = Assert.Throws<CnnFixationsException>(() => AtomicFile.WriteAllBytes(path, new byte[] { 1 }));
        Assert.Contains("out.bin", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }
}
