namespace CnnFixations.Cli;

/// <summary>
/// Ctrl+C during a batch (explain, caption): the first press lets the images in flight finish and starts no new
/// one; the command then reports what was done and exits with 130. Listens from construction until
/// <see cref="Detach"/> (or disposal); <see cref="Requested"/> stays readable after.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly TextWriter _stderr;
    private bool _attached;

    public Interruption(TextWriter stderr)
    {
        _stderr = stderr;
        Console.CancelKeyPress += OnCancel;
        _attached = true;
    }

    /// <summary>Whether Ctrl+C was pressed while listening.</summary>
    public bool Requested => _cancel.IsCancellationRequested;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        if (!_cancel.IsCancellationRequested) _stderr.WriteLine("interrupted: finishing the images in flight ...");
        _cancel.Cancel();
    }

    /// <summary>Stops listening: a later Ctrl+C ends the process as usual.</summary>
    public void Detach()
    {
        if (!_attached) return;
        Console.CancelKeyPress -= OnCancel;
        _attached = false;
    }

    public void Dispose()
    {
        Detach();
        _cancel.Dispose();
    }
}
