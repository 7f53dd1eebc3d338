using CnnFixations.Onnx;

namespace CnnFixations;

/// <summary>
/// Finds the tensor whose neurons are the class logits: the classifier output of the graph, or the
/// input of its final Softmax/LogSoftmax (the spec starts from logits, not probabilities).
/// </summary>
public static class ClassifierHead
{
    /// <summary>
    /// The logits tensor. With <paramref name="outputName"/>, that graph output; otherwise the only
    /// output, or, when there are several, the only one whose declared shape is a classifier's
    /// (<see cref="IsScoreShape"/>). Outputs that are a Softmax of another output count once.
    /// </summary>
    public static string FindLogits(OnnxModel model, string? outputName = null)
    {
        if (outputName != null)
        {
            if (!model.OutputNames.Contains(outputName))
                throw new CnnFixationsException($"--output '{outputName}' is not a model output (outputs: {DescribeOutputs(model)})");
            return CheckDeclared(model, outputName, BeforeSoftmax(model, outputName), chosen: true);
        }

        var logits = model.OutputNames.Select(o => BeforeSoftmax(model, o)).Distinct(StringComparer.Ordinal).ToList();
        if (logits.Count == 1) return CheckDeclared(model, model.OutputNames[0], logits[0], chosen: false);

        var scores = model.OutputNames
            .Where(o => model.DeclaredOutputShape(o) is { } shape && IsScoreShape(shape))
            .Select(o => BeforeSoftmax(model, o))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (scores.Count == 1) return scores[0];
        throw new CnnFixationsException(
            $"the model has {model.OutputNames.Count} outputs ({DescribeOutputs(model)}) and " +
            (scores.Count == 0 ? "none is declared with a classifier's shape [1,N]" : $"{scores.Count} look like class scores") +
            "; choose the class scores with --output NAME");
    }

    /// <summary>
    /// True for the shape of one image's class scores: [N], [1,N] or [1,N,1,1] (a -1 batch or N,
    /// a dimension without a fixed size, is allowed).
    /// </summary>
    public static bool IsScoreShape(IReadOnlyList<int> shape)
    {
        static bool One(int d) => d == 1 || d == -1;
        return shape.Count switch
        {
            1 => shape[0] != 0,
            2 => One(shape[0]) && shape[1] != 0,
            4 => One(shape[0]) && shape[1] != 0 && shape[2] == 1 && shape[3] == 1,
            _ => false,
        };
    }

    /// <summary>Checks the scores an output actually held after a forward pass.</summary>
    public static void CheckScores(string tensor, TensorValue scores)
    {
        if (!IsScoreShape(scores.Shape) || scores.Length == 0)
            throw new CnnFixationsException(
                $"model output '{tensor}' has shape {Shapes.Format(scores.Shape)}, which is not a classifier's class scores ([1,N] or [1,N,1,1]); " +
                "if the model has another output with the scores, name it with --output NAME");
    }

    /// <summary>A chosen output whose declared shape is fixed and plainly not class scores (e.g. a feature map) is refused before inference.</summary>
    private static string CheckDeclared(OnnxModel model, string output, string logits, bool chosen)
    {
        if (model.DeclaredOutputShape(output) is { } shape && shape.Length > 0 && !IsScoreShape(shape) && !LooseScoreShape(shape))
            throw new CnnFixationsException(
                $"model output '{output}' is declared with shape {Shapes.Format(shape)}, which is not a classifier's class scores ([1,N] or [1,N,1,1])" +
                (chosen ? "" : "; if the model has the scores elsewhere, name that output with --output NAME"));
        return logits;
    }

    /// <summary>Shapes with unknown dimensions that may still turn out to be [1,N] or [1,N,1,1] at run time.</summary>
    private static bool LooseScoreShape(IReadOnlyList<int> shape) =>
        shape.Count == 4 && (shape[0] is 1 or -1) && (shape[2] is 1 or -1) && (shape[3] is 1 or -1);

    private static string DescribeOutputs(OnnxModel model) =>
        string.Join(", ", model.OutputNames.Select(o => model.DeclaredOutputShape(o) is { } s ? $"{o} {Shapes.Format(s)}" : o));

    private static string BeforeSoftmax(OnnxModel model, string tensor)
    {
        var producer = model.Producer(tensor);
        if (producer != null && producer.IsDefaultDomain && producer.OpType is "Softmax" or "LogSoftmax" && producer.InputOrNull(0) is { } input)
            return input;
        return tensor;
    }
}
