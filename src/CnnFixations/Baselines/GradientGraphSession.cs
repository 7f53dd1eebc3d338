using System.Collections.Concurrent;
using CnnFixations.Inference;
using CnnFixations.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace CnnFixations.Baselines;

/// <summary>
/// An ONNX Runtime session over the model merged with its <see cref="GradientGraph"/>: one run gives
/// the gradient of one logit at the graph's source (and the source activation), written straight into
/// reused arrays. Thread-safe: each run in flight holds its own set of buffers.
/// </summary>
public sealed class GradientGraphSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OnnxModel _model;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly long[] _seedShape;
    private readonly long[] _sourceShape;
    private readonly int _seedLength;
    private readonly int _sourceLength;
    private readonly ConcurrentBag<Buffers> _pool = new();
    private static readonly int MaxPooled = Math.Max(2, Environment.ProcessorCount);

    public GradientGraphSession(OnnxModel model, GradientGraph graph, int intraOpThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(graph);
        _model = model;
        Graph = graph;
        _inputNames = new[] { model.InputName, GradientGraph.SeedInputName };
        _outputNames = graph.OutputsActivation ? new[] { GradientGraph.GradientOutputName, graph.Source } : new[] { GradientGraph.GradientOutputName };
        _inputShape = graph.InputShape.Select(d => (long)d).ToArray();
        _seedShape = graph.SeedShape.Select(d => (long)d).ToArray();
        _sourceShape = graph.SourceShape.Select(d => (long)d).ToArray();
        _seedLength = checked((int)Shapes.ElementCount(graph.SeedShape));
        _sourceLength = checked((int)Shapes.ElementCount(graph.SourceShape));
        using var options = ModelSession.CreateOptions(model, intraOpThreads);
        try
        {
            _session = new InferenceSession(model.SerializeWithAddition(graph.Addition), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CnnFixationsException($"ONNX Runtime cannot load the gradient graph of '{model.Path ?? "(in memory)"}': {FirstLine(e.Message)}", e);
        }
    }

    public GradientGraph Graph { get; }

    /// <summary>d logits[<paramref name="target"/>] / d source for one input. Dispose the result to hand its buffers back.</summary>
    public GradientResult Run(TensorValue input, int target)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!Shapes.SameShape(input.Shape, Graph.InputShape))
            throw new CnnFixationsException($"the gradient graph was built for input {Shapes.Format(Graph.InputShape)}, not {Shapes.Format(input.Shape)}");
        if ((uint)target >= (uint)_seedLength) throw new CnnFixationsException($"class {target} is outside the {_seedLength} logits");
        if (!_pool.TryTake(out var buffers))
            buffers = new Buffers(new float[_seedLength], new float[_sourceLength], Graph.OutputsActivation ? new float[_sourceLength] : null);
        buffers.Seed[target] = 1;
        try
        {
            using var inputValue = OrtValue.CreateTensorValueFromMemory(input.Data, _inputShape);
            using var seedValue = OrtValue.CreateTensorValueFromMemory(buffers.Seed, _seedShape);
            using var gradientValue = OrtValue.CreateTensorValueFromMemory(buffers.Gradient, _sourceShape);
            using var activationValue = buffers.Activation == null ? null : OrtValue.CreateTensorValueFromMemory(buffers.Activation, _sourceShape);
            var outputs = activationValue == null ? new[] { gradientValue } : new[] { gradientValue, activationValue };
            using var runOptions = new RunOptions();
            _session.Run(runOptions, _inputNames, new[] { inputValue, seedValue }, _outputNames, outputs);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CnnFixationsException($"ONNX Runtime failed on the gradient graph: {FirstLine(e.Message)}", e);
        }
        finally
        {
            buffers.Seed[target] = 0;
        }
        return new GradientResult(
            new TensorValue(Graph.SourceShape, buffers.Gradient),
            buffers.Activation == null ? null : new TensorValue(Graph.SourceShape, buffers.Activation),
            () => { if (_pool.Count < MaxPooled) _pool.Add(buffers); });
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n');
        return (nl >= 0 ? s[..nl] : s).Trim();
    }

    public void Dispose() => _session.Dispose();

    private sealed record Buffers(float[] Seed, float[] Gradient, float[]? Activation);
}

/// <summary>
/// The gradient of one logit at a tensor, with that tensor's activation when the source provides it
/// (null: read it elsewhere). Dispose hands pooled buffers back; the tensors must not be used after that.
/// </summary>
public sealed class GradientResult : IDisposable
{
    private Action? _release;

    internal GradientResult(TensorValue? gradient, TensorValue? activation, Action? release)
    {
        Gradient = gradient;
        Activation = activation;
        _release = release;
    }

    /// <summary>Null when the logit does not depend on the tensor.</summary>
    public TensorValue? Gradient { get; }
    public TensorValue? Activation { get; }

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
