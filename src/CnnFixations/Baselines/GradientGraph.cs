using CnnFixations.Onnx;
using CnnFixations.Onnx.Proto;

namespace CnnFixations.Baselines;

/// <summary>
/// The backward pass of the class logits as ONNX nodes, to be merged into the model's own graph so
/// that ONNX Runtime computes the forward pass and the input gradient in one run (input gradient only:
/// no weight gradients). A one-hot seed is fed as an extra graph input, and the gradient at the source
/// tensor (the network input, or a Grad-CAM layer) comes out as an extra graph output, with the source
/// activation itself when the source is not the input.
/// </summary>
/// <remarks>
/// The rules (<see cref="BackwardGraphRules"/>) follow <see cref="BackwardOps"/>, the project's own
/// backward pass, op for op; a model with an op on the way that has no rule here is reported as
/// unsupported, and callers use <see cref="GradientEngine"/> instead.
/// </remarks>
public sealed class GradientGraph
{
    public const string SeedInputName = "cnnfx_grad_seed";
    public const string GradientOutputName = "cnnfx_grad_out";
    private const string Prefix = "cnnfx_g/";

    private GradientGraph(string logits, string source, bool outputsActivation, int[] inputShape, int[] seedShape, int[] sourceShape, GraphProto addition)
    {
        LogitsTensor = logits;
        Source = source;
        OutputsActivation = outputsActivation;
        InputShape = inputShape;
        SeedShape = seedShape;
        SourceShape = sourceShape;
        Addition = addition;
    }

    public string LogitsTensor { get; }
    /// <summary>The tensor the gradient is taken with respect to.</summary>
    public string Source { get; }
    /// <summary>Whether the source activation is also a graph output (it is unless the source is the network input).</summary>
    public bool OutputsActivation { get; }
    /// <summary>The input shape the graph was built for (its constants depend on it).</summary>
    public int[] InputShape { get; }
    public int[] SeedShape { get; }
    /// <summary>The shape of the source tensor, and so of its gradient.</summary>
    public int[] SourceShape { get; }
    /// <summary>How many nodes the backward pass adds (constants included).</summary>
    public int NodeCount => Addition.Node.Count;
    internal GraphProto Addition { get; }

    /// <summary>The backward graph, or null with the reason when some op on the way has no rule here.</summary>
    public static GradientGraph? TryBuild(OnnxModel model, string logits, int[] inputShape, string? from, out string? unsupported)
    {
        try
        {
            unsupported = null;
            return Build(model, logits, inputShape, from);
        }
        catch (UnsupportedOperatorException e)
        {
            unsupported = e.Message;
            return null;
        }
    }

    /// <summary>Builds the backward graph from the logits down to <paramref name="from"/> (the network input when null).</summary>
    /// <exception cref="UnsupportedOperatorException">An op on the way has no rule, or a shape is not known statically.</exception>
    public static GradientGraph Build(OnnxModel model, string logits, int[] inputShape, string? from = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.OpsetVersion < 11) throw new UnsupportedOperatorException($"opset {model.OpsetVersion}: the backward graph needs opset 11 or later");
        if (model.ProducedTensors().Any(t => t.StartsWith(Prefix, StringComparison.Ordinal)) || model.IsKnownTensor(SeedInputName) || model.IsKnownTensor(GradientOutputName))
            throw new UnsupportedOperatorException($"the model already uses tensor names starting with '{Prefix}'");
        string source = from ?? model.InputName;
        var shapes = ShapeInference.Infer(model, inputShape);
        var (relevant, below) = model.Downstream(source);
        if (!relevant.Contains(logits)) throw new UnsupportedOperatorException($"the logits '{logits}' do not depend on '{source}'");
        if (!shapes.TryGetValue(logits, out var seedShape)) throw new UnsupportedOperatorException($"the shape of the logits '{logits}' is not known statically");
        if (!shapes.TryGetValue(source, out var sourceShape)) throw new UnsupportedOperatorException($"the shape of '{source}' is not known statically");

        var emitter = new GraphEmitter(Prefix);
        var gradients = new PartSums(emitter, pairwise: false);
        var rules = new BackwardGraphRules(model, emitter, shapes, relevant.Contains, gradients.Add);
        gradients.Add(logits, SeedInputName);
        foreach (var node in model.Nodes.Reverse())
        {
            if (!below.Contains(node.Index) || node.Outputs.Count == 0 || !gradients.Has(node.Outputs[0])) continue;
            rules.Apply(node, gradients.Total(node.Outputs[0]));
        }
        if (!gradients.Has(source)) throw new UnsupportedOperatorException($"no gradient reaches '{source}'");
        emitter.NodeWithOutputs("Identity", new[] { gradients.Total(source) }, new[] { GradientOutputName });

        var graph = emitter.Graph;
        graph.Input.Add(GraphEmitter.FloatValueInfo(SeedInputName, seedShape));
        graph.Output.Add(GraphEmitter.FloatValueInfo(GradientOutputName, sourceShape));
        bool outputsActivation = source != model.InputName;
        if (outputsActivation && !model.IsGraphOutput(source)) graph.Output.Add(new ValueInfoProto { Name = source });
        return new GradientGraph(logits, source, outputsActivation, (int[])inputShape.Clone(), seedShape, sourceShape, graph);
    }
}
