using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>
/// Finds the tensor whose neurons are the class logits: the classifier output of the graph, or the
/// input of its final Softmax/LogSoftmax (the spec starts from logits, not probabilities).
/// </summary>
public static class ClassifierHead
{
    public static string FindLogits(OnnxModel model, string? outputName = null)
    {
        IEnumerable<string> candidates;
        if (outputName != null)
        {
            if (!model.OutputNames.Contains(outputName))
                throw new CnnFixationsException($"--output '{outputName}' is not a model output (outputs: {string.Join(", ", model.OutputNames)})");
            candidates = new[] { outputName };
        }
        else candidates = model.OutputNames;

        var logits = candidates.Select(o => BeforeSoftmax(model, o)).Distinct(StringComparer.Ordinal).ToList();
        if (logits.Count == 1) return logits[0];
        throw new CnnFixationsException(
            $"the model has {model.OutputNames.Count} outputs ({string.Join(", ", model.OutputNames)}) that are not one classifier; choose one with --output NAME");
    }

    private static string BeforeSoftmax(OnnxModel model, string tensor)
    {
        var producer = model.Producer(tensor);
        if (producer != null && producer.IsDefaultDomain && producer.OpType is "Softmax" or "LogSoftmax" && producer.InputOrNull(0) is { } input)
            return input;
        return tensor;
    }
}
