using CnnFixations.Onnx;

namespace CnnFixations.Baselines;

/// <summary>
/// Where the gradient-based methods get d logit / d tensor from: the backward pass run by ONNX Runtime
/// as part of the model (<see cref="GradientGraphSession"/>) when every op on the way has a graph rule,
/// otherwise the project's own backward pass (<see cref="GradientEngine"/>). A graph that ONNX Runtime
/// refuses to load or run also falls back to the engine.
/// </summary>
public sealed class GradientSource : IDisposable
{
    private readonly OnnxModel _model;
    private readonly string _logits;
    private readonly string? _from;
    private readonly object _lock = new();
    private readonly GradientGraphSession? _session;
    private GradientGraphSession? _graph;
    private GradientEngine? _engine;

    /// <param name="from">The tensor to differentiate with respect to (null: the network input).</param>
    public GradientSource(OnnxModel model, string logits, int[] inputShape, string? from = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _logits = logits;
        _from = from;
        var graph = GradientGraph.TryBuild(model, logits, inputShape, from, out var unsupported);
        FallbackReason = unsupported;
        if (graph != null)
        {
            try { _graph = _session = new GradientGraphSession(model, graph); }
            catch (CnnFixationsException e) { FallbackReason = e.Message; }
        }
    }

    /// <summary>Whether ONNX Runtime computes the gradient (false: the project's backward pass does).</summary>
    public bool UsesGraph => _graph != null;

    /// <summary>Why the backward graph is not used (null when it is).</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>The gradient of logit <paramref name="target"/> at the source tensor, and the source activation (unless the source is the input).</summary>
    public GradientResult Compute(TensorValue input, int target)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var graph = _graph;
        if (graph != null)
        {
            try { return graph.Run(input, target); }
            catch (CnnFixationsException e) when (e.InnerException is Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                lock (_lock)
                {
                    FallbackReason = e.Message;
                    _graph = null;
                }
            }
        }
        var engine = Engine();
        var forward = engine.Forward(input);
        string source = _from ?? _model.InputName;
        var grads = engine.Backward(forward, target, stopAt: _from);
        var shape = forward.TryGetValue(source, out var activation) ? activation.Shape : input.Shape;
        return new GradientResult(
            grads.TryGetValue(source, out var g) ? new TensorValue(shape, g) : null,
            _from == null ? null : activation ?? throw new CnnFixationsException($"'{_from}' is not an activation of the model"),
            null);
    }

    private GradientEngine Engine()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _engine ??= new GradientEngine(_model, _logits, from: _from);
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has released the sessions.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Releases the backward graph's session and the engine's, if one was created.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (IsDisposed) return;
            IsDisposed = true;
            _graph = null;
        }
        _session?.Dispose();
        _engine?.Dispose();
    }
}
