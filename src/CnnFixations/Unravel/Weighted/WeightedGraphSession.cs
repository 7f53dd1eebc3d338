using System.Collections.Concurrent;
using CnnFixations.Inference;
using CnnFixations.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace CnnFixations.Unravel;

/// <summary>
/// An ONNX Runtime session over a <see cref="WeightedGraph"/>: one run takes the head's weights and the forward
/// activations (read in place) and returns the weight of every neuron of the network input. Thread-safe.
/// </summary>
public sealed class WeightedGraphSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly long[][] _inputShapes;
    private readonly long[] _outputShape;
    private readonly string[] _outputNames = { WeightedGraph.OutputName };

    public WeightedGraphSession(WeightedGraph graph, OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(model);
        Graph = graph;
        _inputNames = Enumerable.Range(0, graph.Heads.Count).Select(WeightedGraph.HeadInput).Concat(graph.Activations).Concat(graph.LargeWeights.Select(w => w.Name)).ToArray();
        _inputShapes = graph.HeadShapes.Concat(graph.ActivationShapes).Concat(graph.LargeWeights.Select(w => w.Shape)).Select(s => s.Select(d => (long)d).ToArray()).ToArray();
        _outputShape = graph.InputShape.Select(d => (long)d).ToArray();
        // One thread, whatever the explainer's: some of ONNX Runtime's kernels split their sums between threads, and the
        // walk's weights would then depend on the thread count (GoogLeNet: 13,195 of 150,528 input weights differed in
        // their last bits between one and two threads). The walk's element-wise ops gain little from a second thread.
        using var options = ModelSession.CreateOptions(model, 1);
        if (Environment.GetEnvironmentVariable("CNNFIX_WALK_PROFILE") is { Length: > 0 } prefix)
        {
            options.ProfileOutputPathPrefix = prefix; // before enabling: the prefix is read when profiling is switched on
            options.EnableProfiling = true;
            File.WriteAllBytes(prefix + ".onnx", graph.Bytes);
        }
        try
        {
            _session = new InferenceSession(graph.Bytes, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CnnFixationsException($"ONNX Runtime cannot load the weighted walk's graph of '{model.Path ?? "(in memory)"}': {e.Message.Split('\n')[0].Trim()}", e);
        }
    }

    public WeightedGraph Graph { get; }

    /// <summary>
    /// The input's weights from the head weights (<paramref name="heads"/>, in the order of <see cref="WeightedGraph.Heads"/>)
    /// and the forward activations; null when an activation the graph reads is missing or has another shape.
    /// </summary>
    public float[]? Run(IReadOnlyList<float[]> heads, IReadOnlyDictionary<string, TensorValue> activations)
    {
        ArgumentNullException.ThrowIfNull(heads);
        ArgumentNullException.ThrowIfNull(activations);
        if (heads.Count != Graph.Heads.Count) throw new ArgumentException($"{heads.Count} head weight tensors for {Graph.Heads.Count} heads", nameof(heads));
        var data = new float[_inputNames.Length][];
        for (int i = 0; i < heads.Count; i++) data[i] = heads[i];
        for (int i = 0; i < Graph.Activations.Count; i++)
        {
            if (!activations.TryGetValue(Graph.Activations[i], out var value) || !Shapes.SameShape(value.Shape, Graph.ActivationShapes[i])) return null;
            data[heads.Count + i] = value.Data;
        }
        for (int i = 0; i < Graph.LargeWeights.Count; i++) data[heads.Count + Graph.Activations.Count + i] = Graph.LargeWeights[i].Data;
        var result = new float[Shapes.ElementCount(Graph.InputShape)];
        var values = new OrtValue[data.Length];
        try
        {
            for (int i = 0; i < data.Length; i++) values[i] = OrtValue.CreateTensorValueFromMemory(data[i], _inputShapes[i]);
            using var output = OrtValue.CreateTensorValueFromMemory(result, _outputShape);
            using var runOptions = new RunOptions();
            _session.Run(runOptions, _inputNames, values, _outputNames, new[] { output });
        }
        catch (OnnxRuntimeException e)
        {
            throw new CnnFixationsException($"ONNX Runtime failed on the weighted walk's graph: {e.Message.Split('\n')[0].Trim()}", e);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
        return result;
    }

    /// <summary>
    /// One run on zeros, so that ONNX Runtime's first-run work (its memory arena, about five steady runs' time) is done
    /// before the first walk needs the session.
    /// </summary>
    public void WarmUp()
    {
        var heads = Graph.HeadShapes.Select(s => new float[Shapes.ElementCount(s)]).ToArray();
        var activations = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        for (int i = 0; i < Graph.Activations.Count; i++)
            activations[Graph.Activations[i]] = new TensorValue(Graph.ActivationShapes[i], new float[Shapes.ElementCount(Graph.ActivationShapes[i])]);
        Run(heads, activations);
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("CNNFIX_WALK_PROFILE") is { Length: > 0 }) _session.EndProfiling();
        _session.Dispose();
    }
}

/// <summary>
/// The weighted walk's graphs of one explainer, built on first use for each set of head tensors and input shape, and
/// disposed with it. A walk whose graph cannot be built (a rule without ONNX form) runs in the managed kernels; the
/// reason is kept in <see cref="Unsupported"/>.
/// </summary>
internal sealed class WeightedGraphs(OnnxModel model, UnravelPlan plan, RuleSet rules, UnravelOptions options) : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _sessions = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    /// <summary>A graph's session, built once; <see cref="Tentative"/>: built from static shapes only, ahead of the first forward pass.</summary>
    private sealed record Entry(Lazy<WeightedGraphSession?> Session, bool Tentative);

    /// <summary>Why the last walk ran in the managed rules instead (null when the last build succeeded or none failed).</summary>
    public string? Unsupported { get; private set; }

    /// <summary>Records why a walk whose graph exists ran in the managed rules (a missing activation, a result that is not finite).</summary>
    public void Fallback(string why) => Unsupported = why;

    /// <summary>
    /// The session for walks from <paramref name="heads"/> on an input of <paramref name="inputShape"/>; null when the walk
    /// has no ONNX form. With <paramref name="tentative"/> (a build ahead of the first forward pass, from static shapes
    /// only) a failure is not final: a walk that finds it builds again with the forward pass's shapes.
    /// </summary>
    public WeightedGraphSession? For(IReadOnlyList<string> heads, int[] inputShape, Func<string, int[]?> shapeOf, bool tentative = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string key = Shapes.Format(inputShape) + "\n" + string.Join("\n", heads);
        var entry = _sessions.GetOrAdd(key, _ => new Entry(Create(heads, inputShape, shapeOf), tentative));
        var session = entry.Session.Value;
        if (session != null || tentative || !entry.Tentative) return session;
        var retry = new Entry(Create(heads, inputShape, shapeOf), false);
        return (_sessions.TryUpdate(key, retry, entry) ? retry : _sessions[key]).Session.Value;
    }

    private Lazy<WeightedGraphSession?> Create(IReadOnlyList<string> heads, int[] inputShape, Func<string, int[]?> shapeOf) =>
        new(() =>
        {
            WeightedGraph graph;
            try
            {
                // Shapes the forward pass did not give (a model without a fixed input size) are inferred for this input.
                var inferred = new Lazy<Dictionary<string, int[]>>(() => ShapeInference.Infer(model, inputShape));
                graph = WeightedGraph.Build(model, plan, rules, options, heads, t => shapeOf(t) ?? inferred.Value.GetValueOrDefault(t));
            }
            catch (UnsupportedOperatorException e)
            {
                Unsupported = e.Message;
                return null;
            }
            Unsupported = null;
            return new WeightedGraphSession(graph, model);
        });

    public void Dispose()
    {
        _disposed = true;
        foreach (var entry in _sessions.Values)
            if (entry.Session.IsValueCreated) entry.Session.Value?.Dispose();
    }
}
