using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;

namespace CnnFixations;

/// <summary>The tensor the walk starts from (the class scores) and why it was chosen.</summary>
public sealed record ScoreTensor(string Tensor, string Reason);

/// <summary>
/// Finds the tensor whose neurons are the class logits. Graph outputs that are labels, maps or arg-maxes
/// (ArgMax, ArrayFeatureExtractor, LabelEncoder, ZipMap, string or integer tensors) are followed back to the
/// numeric tensor that feeds them; probabilities (Softmax, LogSoftmax, Sigmoid) to their logits (the spec
/// starts from logits, not probabilities).
/// </summary>
public static class ClassifierHead
{
    private static readonly HashSet<string> ProbabilityOps = new(StringComparer.Ordinal) { "Softmax", "LogSoftmax", "Sigmoid" };
    private static readonly HashSet<string> ReshapeOps = new(StringComparer.Ordinal) { "Identity", "Flatten", "Reshape", "Squeeze", "Unsqueeze" };

    /// <summary>The tensor whose values are the class scores (see <see cref="Choose"/>).</summary>
    public static string FindLogits(OnnxModel model, string? outputName = null) => Choose(model, outputName).Tensor;

    /// <summary>
    /// The logits tensor. With <paramref name="outputName"/>, that tensor (any tensor of the graph, not only an
    /// output), followed back as below; otherwise the only graph output that leads to numeric scores, or, when
    /// several do, the only one with a classifier's shape (<see cref="IsScoreShape"/>).
    /// </summary>
    public static ScoreTensor Choose(OnnxModel model, string? outputName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (outputName != null)
        {
            if (!model.IsKnownTensor(outputName))
                throw new CnnFixationsException($"--output '{outputName}' is not a tensor of the model (outputs: {DescribeOutputs(model)})");
            if (model.IsConstant(outputName))
                throw new CnnFixationsException($"--output '{outputName}' is a constant of the model, not class scores");
            var chosen = Resolve(model, outputName) ?? throw new CnnFixationsException(
                $"--output '{outputName}' holds labels or indices, and no numeric class scores feed it");
            if (chosen.Tensor == outputName || model.IsGraphOutput(outputName)) CheckDeclared(model, outputName, chosen: true);
            return chosen with { Reason = $"--output {outputName}" + (chosen.Tensor == outputName ? "" : $": {chosen.Reason}") };
        }

        var resolved = model.OutputNames.Select(o => (Output: o, Score: Resolve(model, o))).ToList();
        var groups = resolved.Where(r => r.Score != null).GroupBy(r => r.Score!.Tensor, StringComparer.Ordinal).ToList();
        var candidates = groups.Select(g => g.First()).ToList();
        if (candidates.Count == 1)
        {
            var (output, score) = candidates[0];
            CheckDeclared(model, output, chosen: false);
            var outputs = groups[0].Select(r => $"'{r.Output}'").ToList();
            string which = model.OutputNames.Count == 1 ? "the only output"
                : outputs.Count > 1 ? $"outputs {string.Join(", ", outputs)} all lead to it"
                : $"the only one of {model.OutputNames.Count} outputs that leads to numeric scores";
            return score! with { Reason = $"{which}: {score.Reason}" };
        }
        var scores = candidates.Where(c => model.DeclaredOutputShape(c.Output) is { } shape && IsScoreShape(shape)).ToList();
        if (scores.Count == 1)
            return scores[0].Score! with { Reason = $"the only output of {model.OutputNames.Count} declared with a classifier's shape: {scores[0].Score!.Reason}" };
        throw new CnnFixationsException(
            $"the model has {model.OutputNames.Count} outputs ({DescribeOutputs(model)}) and " +
            (candidates.Count == 0 ? "none is numeric class scores or leads back to them"
                : scores.Count == 0 ? "none is declared with a classifier's shape [1,N]" : $"{scores.Count} look like class scores") +
            "; choose the class scores with --output NAME");
    }

    /// <summary>
    /// The numeric scores behind <paramref name="tensor"/>: back through label and arg-max ops (and the
    /// reshapes and casts between them), then from probabilities to logits. Null when the tensor holds labels
    /// or indices that no numeric tensor feeds.
    /// </summary>
    private static ScoreTensor? Resolve(OnnxModel model, string tensor)
    {
        var steps = new List<string>();
        string current = tensor;
        var type = model.IsGraphOutput(tensor) ? model.DeclaredOutputElementType(tensor) : null;
        // Labels, indices and maps are not scores: string, integer and non-tensor (ZipMap's sequence of maps) outputs.
        bool notScores = type is { } t && !IsNumericScoreType(t);
        for (int hop = 0; hop < 32; hop++)
        {
            var p = model.Producer(current);
            if (p == null) break;
            bool ml = p.Domain == "ai.onnx.ml";
            string? next = null;
            bool nextNotScores = notScores;
            if (p.IsDefaultDomain && p.OpType is "ArgMax" or "ArgMin" or "TopK")
            {
                if (p.OpType == "TopK" && p.Outputs[0] == current) break; // TopK's values are scores themselves
                next = p.InputOrNull(0);
                nextNotScores = false;
            }
            else if (ml && p.OpType is "ZipMap")
            {
                next = p.InputOrNull(0);
                nextNotScores = false;
            }
            else if (ml && p.OpType is "ArrayFeatureExtractor")
            {
                // labels[indices]: follow the indices (the non-constant operand); a selection from scores keeps the scores.
                bool labelsConstant = p.InputOrNull(0) is { } x && model.IsConstant(x);
                next = labelsConstant ? p.InputOrNull(1) : p.InputOrNull(0);
                nextNotScores = labelsConstant;
            }
            else if (ml && p.OpType is "LabelEncoder" or "CastMap")
            {
                next = p.InputOrNull(0);
                nextNotScores = true;
            }
            else if (notScores && p.IsDefaultDomain && (p.OpType == "Cast" || ReshapeOps.Contains(p.OpType) || p.OpType == "Gather"))
                next = p.InputOrNull(0);
            if (next == null || model.IsConstant(next)) break;
            steps.Add($"{p.Describe()} reads '{next}'");
            current = next;
            notScores = nextNotScores;
        }
        if (notScores) return null;

        // Probabilities: the logits are the input of the final Softmax/LogSoftmax/Sigmoid (through reshapes).
        string probe = current;
        for (int hop = 0; hop < 8; hop++)
        {
            var p = model.Producer(probe);
            if (p == null || !p.IsDefaultDomain || p.InputOrNull(0) is not { } input || model.IsConstant(input)) break;
            if (ProbabilityOps.Contains(p.OpType))
            {
                steps.Add($"'{current}' is probabilities: the logits are the input of {p.Describe()}");
                current = input;
                break;
            }
            if (!ReshapeOps.Contains(p.OpType)) break;
            probe = input;
        }
        string reason = steps.Count == 0 ? $"'{tensor}' is taken as the logits" : $"'{tensor}': {string.Join("; ", steps)}";
        return new ScoreTensor(current, reason);
    }

    private static bool IsNumericScoreType(TensorProto.Types.DataType t) => t is TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double
        or TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16;

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
    private static void CheckDeclared(OnnxModel model, string output, bool chosen)
    {
        if (model.DeclaredOutputElementType(output) is { } t && !IsNumericScoreType(t)) return; // labels: their scores were checked by type
        if (model.DeclaredOutputShape(output) is { } shape && shape.Length > 0 && !IsScoreShape(shape) && !LooseScoreShape(shape))
            throw new CnnFixationsException(
                $"model output '{output}' is declared with shape {Shapes.Format(shape)}, which is not a classifier's class scores ([1,N] or [1,N,1,1])" +
                (chosen ? "" : "; if the model has the scores elsewhere, name that output with --output NAME"));
    }

    /// <summary>Shapes with unknown dimensions that may still turn out to be [1,N] or [1,N,1,1] at run time.</summary>
    private static bool LooseScoreShape(IReadOnlyList<int> shape) =>
        shape.Count == 4 && (shape[0] is 1 or -1) && (shape[2] is 1 or -1) && (shape[3] is 1 or -1);

    private static string DescribeOutputs(OnnxModel model) =>
        string.Join(", ", model.OutputNames.Select(o => model.DeclaredOutputShape(o) is { } s ? $"{o} {Shapes.Format(s)}" : o));
}
