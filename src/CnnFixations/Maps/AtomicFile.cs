namespace CnnFixations.Maps;

/// <summary>
/// Writes files so that readers see either the old file or the complete new one: the bytes go to a
/// temporary file in the same folder (".name.random.tmp"), which then replaces the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            Write(path, _ => { });
            return;
        }
        // A span cannot be captured by the lambda, so write it through a copy-free pinned stream.
        unsafe
        {
            fixed (byte* p = bytes)
            {
                using var source = new UnmanagedMemoryStream(p, bytes.Length);
                Write(path, stream => source.CopyTo(stream));
            }
        }
    }

    /// <summary>
    /// Lets <paramref name="write"/> fill the new file; on any exception the temporary file is deleted.
    /// A file system failure (missing or unwritable folder, a file where a folder should be, a full
    /// disk) becomes a <see cref="CnnFixationsException"/> naming the path; other exceptions are rethrown.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new CnnFixationsException($"cannot write '{path}': {e.Message}", e);
            throw;
        }
    }
}
