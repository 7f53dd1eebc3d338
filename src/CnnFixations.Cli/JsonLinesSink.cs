namespace CnnFixations.Cli;

/// <summary>
/// A JSON Lines output (results.jsonl, --json FILE, --json -) filled as the images finish: each image's
/// lines are written as soon as every image before it in input order is done (images that finish early wait
/// in a per-index buffer), so the file has the input order whatever the order in which the images finish,
/// and the documents are serialized once and never read back. A file is written to a temporary file beside
/// it and only replaces the target on <see cref="Commit"/>; disposed without it, the temporary file is
/// deleted and the target is left as it was. Thread-safe.
/// </summary>
internal sealed class JsonLinesSink : IDisposable
{
    private readonly string? _path;
    private readonly string? _temp;
    private readonly Stream _stream;
    private readonly SortedDictionary<int, IReadOnlyList<byte[]>> _waiting = new();
    private int _next;
    private bool _done;

    private JsonLinesSink(string? path, string? temp, Stream stream)
    {
        _path = path;
        _temp = temp;
        _stream = stream;
    }

    /// <summary>A sink that writes <paramref name="path"/> on <see cref="Commit"/>.</summary>
    public static JsonLinesSink ToFile(string path)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            return new JsonLinesSink(full, temp, new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot write '{path}': {e.Message}", e);
        }
    }

    /// <summary>A sink kept in memory (for standard output, which gets it only when the run succeeds); read it with <see cref="ToArray"/>.</summary>
    public static JsonLinesSink InMemory() => new(null, null, new MemoryStream());

    /// <summary>The lines of the input at <paramref name="index"/> (each a JSON document, with or without its final newline); every index from 0 is given once, or passed over by <see cref="Commit"/>.</summary>
    public void Add(int index, IReadOnlyList<byte[]> lines)
    {
        lock (_waiting)
        {
            if (_done) throw new InvalidOperationException("the sink is complete");
            if (index < _next || !_waiting.TryAdd(index, lines)) throw new InvalidOperationException($"input {index} was given twice");
            while (_waiting.Remove(_next, out var ready))
            {
                Write(ready);
                _next++;
            }
        }
    }

    /// <summary>Writes what still waits (the inputs after a gap: those never started when a run is interrupted), in input order.</summary>
    private void Drain()
    {
        foreach (var lines in _waiting.Values) Write(lines);
        _waiting.Clear();
    }

    private void Write(IReadOnlyList<byte[]> lines)
    {
        try
        {
            foreach (var d in lines)
            {
                _stream.Write(d, 0, d.Length);
                if (d.Length == 0 || d[^1] != (byte)'\n') _stream.WriteByte((byte)'\n');
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot write '{_path}': {e.Message}", e);
        }
    }

    /// <summary>Completes the output: the waiting lines are written, and a file replaces its target.</summary>
    public void Commit()
    {
        lock (_waiting)
        {
            if (_done) return;
            Drain();
            _done = true;
            if (_temp == null) return;
            try
            {
                _stream.Flush();
                if (_stream is FileStream file) file.Flush(flushToDisk: true);
                _stream.Dispose();
                File.Move(_temp, _path!, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CnnFixationsException($"cannot write '{_path}': {e.Message}", e);
            }
        }
    }

    /// <summary>The bytes of an in-memory sink after <see cref="Commit"/>.</summary>
    public byte[] ToArray() => _stream is MemoryStream ms ? ms.ToArray() : throw new InvalidOperationException("not an in-memory sink");

    /// <summary>Closes the output; a file not committed is deleted.</summary>
    public void Dispose()
    {
        lock (_waiting)
        {
            _done = true;
            if (_temp == null) return;
            _stream.Dispose();
            try { if (File.Exists(_temp)) File.Delete(_temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
