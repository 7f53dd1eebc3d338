using CnnFixations.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CnnFixations.Inference;

/// <summary>
/// An ONNX Runtime session over the model with chosen intermediate tensors added as graph
/// outputs, so one forward pass returns the logits and every activation the walk reads.
/// Thread-safe: several images may run at once.
/// </summary>
public sealed class ModelSession : IDisposable
{
    /// <summary>Operator domains besides the default one that ONNX Runtime's CPU provider implements.</summary>
    private static readonly HashSet<string> RuntimeDomains = new(StringComparer.Ordinal) { "ai.onnx.ml", "com.microsoft", "com.microsoft.nchwc" };

    private readonly InferenceSession _session;
    private readonly OnnxModel _model;

    public ModelSession(OnnxModel model, IEnumerable<string> extraOutputs, int intraOpThreads = 0)
    {
        _model = model;
        ExtraOutputs = extraOutputs.Distinct(StringComparer.Ordinal).Where(n => !model.OutputNames.Contains(n)).ToArray();
        var options = CreateOptions(model, intraOpThreads);
        string label = model.Path ?? "(in memory)";
        try
        {
            byte[] bytes = model.SerializeWithOutputs(ExtraOutputs);
            _session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException e)
        {
            var foreign = model.Nodes.FirstOrDefault(n => !n.IsDefaultDomain && !RuntimeDomains.Contains(n.Domain));
            string hint = foreign == null ? "" : $" ({foreign.Describe()} is from domain '{foreign.Domain}', which ONNX Runtime does not implement)";
            throw new CnnFixationsException($"ONNX Runtime cannot load model '{label}'{hint}: {FirstLine(e.Message)}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"model file '{label}' cannot be read: {e.Message}", e);
        }
        finally
        {
            options.Dispose();
        }
    }

    public IReadOnlyList<string> ExtraOutputs { get; }

    /// <summary>The session options every session over this model uses (the caller disposes them).</summary>
    internal static SessionOptions CreateOptions(OnnxModel model, int intraOpThreads)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // 0: every core .NET sees (container limits included). ONNX Runtime's own default counts physical cores from the
        // processor's topology, which some virtual machines misreport: on the 2-core machine of bench/README.md it ran one
        // thread, and ResNet-50's forward pass took 54 ms instead of 32.
        options.IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount;
        if (model.Directory != null)
            options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", model.Directory);
        return options;
    }

    private volatile bool _preallocationFailed;

    /// <summary>
    /// Runs the model on one input tensor and returns the requested tensors as float32. When every
    /// requested tensor's shape is in <paramref name="knownShapes"/>, ONNX Runtime writes the outputs
    /// straight into arrays allocated here (no copy).
    /// </summary>
    /// <param name="buffers">Arrays to write into (one per distinct output, in order, of the exact sizes), reused from an earlier run; null to allocate.</param>
    public Dictionary<string, TensorValue> Run(TensorValue input, IReadOnlyCollection<string> outputs, IReadOnlyDictionary<string, int[]>? knownShapes, float[][]? buffers = null)
    {
        if (knownShapes == null || _preallocationFailed || !outputs.All(knownShapes.ContainsKey)) return Run(input, outputs);
        var names = outputs.Distinct(StringComparer.Ordinal).ToArray();
        buffers ??= new float[names.Length][];
        var values = new OrtValue[names.Length];
        try
        {
            for (int i = 0; i < names.Length; i++)
            {
                var shape = knownShapes[names[i]];
                int length = checked((int)Shapes.ElementCount(shape));
                if (buffers[i] == null || buffers[i].Length != length) buffers[i] = GC.AllocateUninitializedArray<float>(length);
                values[i] = OrtValue.CreateTensorValueFromMemory(buffers[i], shape.Select(d => (long)d).ToArray());
            }
            using var inputValue = OrtValue.CreateTensorValueFromMemory(input.Data, input.Shape.Select(d => (long)d).ToArray());
            using var runOptions = new RunOptions();
            _session.Run(runOptions, new[] { _model.InputName }, new[] { inputValue }, names, values);
        }
        catch (OnnxRuntimeException)
        {
            // A shape or element type differs from the static inference: use ONNX Runtime's own buffers from now on.
            _preallocationFailed = true;
            return Run(input, outputs);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
        var map = new Dictionary<string, TensorValue>(names.Length, StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++) map[names[i]] = new TensorValue(knownShapes[names[i]], buffers[i]);
        return map;
    }

    /// <summary>Runs the model on one input tensor and returns the requested tensors as float32 (copied from ONNX Runtime's buffers).</summary>
    public Dictionary<string, TensorValue> Run(TensorValue input, IReadOnlyCollection<string> outputs)
    {
        var shape = input.Shape.Select(d => (long)d).ToArray();
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input.Data, shape);
        var names = outputs.Distinct(StringComparer.Ordinal).ToArray();
        using var runOptions = new RunOptions();
        IDisposableReadOnlyCollection<OrtValue> results;
        try
        {
            results = _session.Run(runOptions, new[] { _model.InputName }, new[] { inputValue }, names);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CnnFixationsException($"ONNX Runtime failed on the input of shape {Shapes.Format(input.Shape)}: {FirstLine(e.Message)}", e);
        }
        using (results)
        {
            var map = new Dictionary<string, TensorValue>(names.Length, StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++)
            {
                var value = results[i];
                var info = value.GetTensorTypeAndShape();
                var tensorShape = info.Shape.Select(d => checked((int)d)).ToArray();
                float[] data = info.ElementDataType switch
                {
                    TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
                    TensorElementType.Double => ToFloat(value.GetTensorDataAsSpan<double>()),
                    TensorElementType.Int64 => ToFloat(value.GetTensorDataAsSpan<long>()),
                    TensorElementType.Int32 => ToFloat(value.GetTensorDataAsSpan<int>()),
                    TensorElementType.UInt8 => ToFloat(value.GetTensorDataAsSpan<byte>()),
                    TensorElementType.Int8 => ToFloat(value.GetTensorDataAsSpan<sbyte>()),
                    _ => throw new CnnFixationsException($"tensor '{names[i]}' has element type {info.ElementDataType}, which CnnFixations cannot read"),
                };
                map[names[i]] = new TensorValue(tensorShape, data);
            }
            return map;
        }
    }

    private static float[] ToFloat<T>(ReadOnlySpan<T> span) where T : unmanaged
    {
        var r = new float[span.Length];
        for (int i = 0; i < r.Length; i++) r[i] = Convert.ToSingle(span[i]);
        return r;
    }

    private static string FirstLine(string s)
    {
        s = s.Replace('\r', ' ');
        int nl = s.IndexOf('\n');
        return (nl >= 0 ? s[..nl] : s).Trim();
    }

    public void Dispose() => _session.Dispose();
}
