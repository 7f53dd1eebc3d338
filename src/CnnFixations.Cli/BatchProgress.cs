using Spectre.Console;

namespace CnnFixations.Cli;

/// <summary>Progress of a batch: a live bar with count, rate and time left on a terminal; one line per image otherwise.</summary>
internal abstract class BatchProgress : IDisposable
{
    public static BatchProgress Create(bool enabled, int total, TextWriter writer)
    {
        if (!enabled) return new Silent();
        bool interactive = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        return interactive ? new Bar(total) : new Lines(total, writer);
    }

    public abstract void Report(ImageOutcome outcome);
    public virtual void Dispose() { }

    protected static string Describe(ImageOutcome o) =>
        o.Error != null ? $"error: {o.Error}"
        : o.Skipped ? "skipped (outputs exist)"
        : o.Top1 is { } p ? $"{p.Label ?? p.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({p.Score:P1})" + (o.Box is { } b ? $" box [{string.Join(",", b)}]" : "")
        : "done";

    private sealed class Silent : BatchProgress
    {
        public override void Report(ImageOutcome outcome) { }
    }

    private sealed class Lines : BatchProgress
    {
        private readonly int _total;
        private readonly TextWriter _writer;
        private int _done;

        public Lines(int total, TextWriter writer) { _total = total; _writer = writer; }

        public override void Report(ImageOutcome outcome)
        {
            int n = Interlocked.Increment(ref _done);
            lock (_writer) _writer.WriteLine($"[{n}/{_total}] {outcome.File.Path}: {Describe(outcome)}");
        }
    }

    private sealed class Bar : BatchProgress
    {
        private readonly ProgressTask _task;
        private readonly Task _loop;
        private readonly TaskCompletionSource _finished = new();

        public Bar(int total)
        {
            ProgressTask? task = null;
            var ready = new ManualResetEventSlim();
            _loop = Task.Run(() => AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn(),
                         new TransferSpeedlessRateColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    task = ctx.AddTask("explaining", maxValue: total);
                    ready.Set();
                    _finished.Task.Wait();
                    ctx.Refresh();
                }));
            ready.Wait();
            _task = task!;
        }

        public override void Report(ImageOutcome outcome)
        {
            _task.Increment(1);
            if (outcome.Error != null) AnsiConsole.MarkupLineInterpolated($"[red]failed[/] {outcome.File.Path}: {outcome.Error}");
        }

        public override void Dispose()
        {
            _finished.TrySetResult();
            _loop.Wait();
        }
    }

    /// <summary>Images per second.</summary>
    private sealed class TransferSpeedlessRateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double s ? $"{s:F1} img/s" : "");
    }
}
