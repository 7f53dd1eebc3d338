using System.Diagnostics;
using CnnFixations.Inference;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

namespace CnnFixations;

/// <summary>One class of the prediction with its softmax probability.</summary>
public sealed record Prediction(int Index, string? Label, double Score);

/// <summary>The walk from one class logit down to the network input, with the forward pass it came from.</summary>
public sealed record TensorExplanation(
    float[] Logits,
    IReadOnlyList<Prediction> Predictions,
    int Target,
    float TargetLogit,
    UnravelResult Fixations,
    double ForwardMs,
    double UnravelMs)
{
    /// <summary>The target's label, or null when the model has no labels.</summary>
    public string? TargetLabel { get; init; }

    /// <summary>The start of the walk when it is not a class logit (<see cref="Explainer.UnravelFrom"/>).</summary>
    public StartPoint? Start { get; init; }

    /// <summary>
    /// Problems that did not stop the walk but may make its fixations incomplete: NaN or infinite
    /// values in the weights the rules read or in the activations the walk went through (the rules
    /// never follow a NaN score, so fixations through such values can be missing). Empty when none.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();

    /// <summary>The weights that reached the input (weighted rules); null for the paper's rules.</summary>
    public WeightedResult? Weights { get; init; }
}

/// <summary>
/// Explains a model's decisions by CNN Fixations. The model is parsed and the ONNX Runtime session
/// created once; <see cref="Forward"/> and <see cref="Unravel"/> may be called from several threads.
/// </summary>
public sealed class Explainer : IDisposable
{
    private readonly ModelSession _session;
    private readonly UnravelPlan _plan;
    private readonly string[] _fetch;
    private readonly Dictionary<string, int[]>? _shapes;
    private string[] _runtimeConstants;
    private readonly object _constantsLock = new();
    private readonly int _threads;

    /// <summary>Weight buffers that the weighted walks of this explainer reuse (see <see cref="WeightBuffers"/>).</summary>
    private readonly WeightBuffers _weightBuffers = new();

    /// <summary>The ONNX form of the weighted walk below the head, built on first use (see <see cref="WalkEngine"/>).</summary>
    private readonly WeightedGraphs _weightedGraphs;
    private readonly Task? _graphWarmUp;

    /// <summary>Parses the walk's plan for <paramref name="model"/> and creates its ONNX Runtime session.</summary>
    /// <param name="model">The classifier.</param>
    /// <param name="options">The walk's options (default: the specification's).</param>
    /// <param name="outputName">The class scores' output when the model has several (default: the one shaped like a classifier's).</param>
    /// <param name="intraOpThreads">ONNX Runtime's threads per forward pass (0: its default).</param>
    /// <param name="startTensor">Walk from this tensor instead of the class logits (see <see cref="UnravelFrom"/>).</param>
    /// <param name="layout">The input's layout when detection (<see cref="InputAdapter.DetectLayout"/>) is not to decide.</param>
    public Explainer(OnnxModel model, UnravelOptions? options = null, string? outputName = null, int intraOpThreads = 0, string? startTensor = null,
        InputLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        // A channel-last or non-float input gets a Transpose/Cast inside the graph: from here on the input is float32 [N,C,H,W].
        model = model.InputAdapted ? model : InputAdapter.Adapt(model, layout).Model;
        Model = model;
        Options = options ?? UnravelOptions.Default;
        var scores = ClassifierHead.Choose(model, outputName);
        LogitsTensor = scores.Tensor;
        ScoreReason = scores.Reason;
        StartTensor = startTensor ?? LogitsTensor;
        _plan = UnravelPlan.Create(model, StartTensor, RuleSet.Default, Options);
        // The weights the walk reads are converted and checked for NaN/Inf on another core while ONNX
        // Runtime builds its session.
        _weightWarnings = Task.Run<IReadOnlyList<string>>(() => NonFiniteWeights(model, _plan));
        _runtimeConstants = _plan.RuntimeConstants.ToArray();
        // With a fixed input size the shapes are known before the forward pass, so only the tensors
        // whose values the rules read are fetched (and written straight into preallocated buffers).
        _shapes = model.FixedInputShape() is { } fixedShape ? ShapeInference.Infer(model, fixedShape) : null;
        _fetch = _plan.FetchList(_shapes).Except(_runtimeConstants).Append(LogitsTensor).Append(StartTensor)
            .Where(t => t != model.InputName).Distinct(StringComparer.Ordinal).ToArray();
        _session = new ModelSession(model, _fetch.Concat(_runtimeConstants), intraOpThreads);
        _threads = intraOpThreads;
        _weightedGraphs = new WeightedGraphs(model, _plan, RuleSet.Default, Options);
        if (Options.Rules == RuleFamily.Weighted && Options.WalkEngine == WalkEngine.Onnx && StartTensor == LogitsTensor && _shapes != null)
        {
            // The walk's graph and its ONNX Runtime session are built (and run once) on another core while the model's own session is.
            var shapes = _shapes;
            var inputShape = model.FixedInputShape()!;
            _graphWarmUp = Task.Run(() =>
            {
                try { _weightedGraphs.For(WeightedWalk.HeadTensorsOf(model, _plan, LogitsTensor), inputShape, t => shapes.GetValueOrDefault(t) ?? model.ConstantShape(t), tentative: true)?.WarmUp(); }
                catch (Exception) { } // the walk builds it again and reports what went wrong
            });
        }
        Gradients = new Baselines.GradientSessions(this);
        Labels = LabelSet.FromModel(model);
        _ = WeightWarnings; // waits for the check, so that unreadable weights fail here as before

    }

    /// <summary>The classifier.</summary>
    public OnnxModel Model { get; }
    /// <summary>The walk's options.</summary>
    public UnravelOptions Options { get; }
    /// <summary>The class scores' tensor.</summary>
    public string LogitsTensor { get; }
    /// <summary>Why <see cref="LogitsTensor"/> was chosen as the class scores.</summary>
    public string ScoreReason { get; }
    /// <summary>The tensor walks start from: the logits, or the tensor given to the constructor.</summary>
    public string StartTensor { get; }
    /// <summary>The gradient sessions (CAM, Grad-CAM, gradient) of this model, created on first use and disposed with the explainer.</summary>
    internal Baselines.GradientSessions Gradients { get; }

    /// <summary>How many tensors each forward pass fetches besides the logits.</summary>
    public int FetchedTensorCount => _fetch.Length - 1;

    /// <summary>
    /// Waits for the work the constructor started on another core (the weights' check, the weighted walk's graph and its
    /// warm-up run). Optional: the first walk waits for what it needs; a benchmark calls it so that nothing else runs
    /// while it times.
    /// </summary>
    public void WaitForBackgroundWork()
    {
        _ = WeightWarnings;
        try { _graphWarmUp?.Wait(); } catch (AggregateException) { }
    }

    /// <summary>Why the weighted walk runs in the managed kernels instead of ONNX Runtime (null when it does not, or has not run yet).</summary>
    public string? ManagedWalkReason => Options.WalkEngine == WalkEngine.Managed ? "--walk-engine managed" : _weightedGraphs.Unsupported;

    /// <summary>The tensors each forward pass fetches besides the model's outputs.</summary>
    internal IReadOnlyList<string> FetchedTensors => _fetch;
    /// <summary>Class names (from the model's metadata unless set), or null.</summary>
    public LabelSet? Labels { get; set; }

    /// <summary>One line for each weight tensor the walk reads that holds NaN or infinite values.</summary>
    public IReadOnlyList<string> WeightWarnings => _weightWarnings.GetAwaiter().GetResult();
    private readonly Task<IReadOnlyList<string>> _weightWarnings;

    /// <summary>
    /// The forward pass: logits and every activation the walk reads. Dispose the result when done
    /// with it, so that the next pass reuses its buffers.
    /// </summary>
    public ForwardPass Forward(TensorValue input)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        CheckInput(input);
        string[] constants;
        lock (_constantsLock) constants = _runtimeConstants;
        float[][]? buffers = null;
        if (constants.Length == 0 && _shapes != null && !_buffers.TryTake(out buffers)) buffers = new float[_fetch.Length][];
        var values = constants.Length == 0
            ? _session.Run(input, _fetch, _shapes, buffers)
            : _session.Run(input, _fetch.Concat(constants).ToArray());
        if (constants.Length > 0)
        {
            lock (_constantsLock)
            {
                foreach (var c in constants)
                    Model.SetComputedConstant(c, new ConstTensor(values[c].Shape, values[c].Data));
                _runtimeConstants = Array.Empty<string>();
            }
        }
        values[Model.InputName] = input;
        CheckLogits(values[LogitsTensor], input);
        return new ForwardPass(values, buffers == null ? null : () =>
        {
            if (_buffers.Count < MaxPooledBuffers) _buffers.Add(buffers);
        });
    }

    // Activation buffers of finished passes, reused by later ones (a few sets: one per pass in flight).
    private readonly System.Collections.Concurrent.ConcurrentBag<float[][]> _buffers = new();
    private static readonly int MaxPooledBuffers = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// The class scores must be a classifier's ([1,N] or [1,N,1,1]) and finite: with a NaN or an
    /// infinity among them the ranking and the softmax mean nothing, so the run stops and says where
    /// the values came from as far as it can tell.
    /// </summary>
    private void CheckLogits(TensorValue logits, TensorValue input)
    {
        ClassifierHead.CheckScores(LogitsTensor, logits);
        var (nan, inf) = CountNonFinite(logits.Data);
        if (nan == 0 && inf == 0) return;
        var (inNan, inInf) = CountNonFinite(input.Data);
        string cause = inNan + inInf > 0 ? $"the input itself holds {Describe(inNan, inInf)}"
            : WeightWarnings.Count > 0 ? WeightWarnings[0]
            : "an overflow in the forward pass or NaN/Inf in weights that the walk does not read";
        throw new CnnFixationsException(
            $"the class scores '{LogitsTensor}' hold {Describe(nan, inf)} of {logits.Length}, so there is no class to explain ({cause})");
    }

    internal static (int NaN, int Infinite) CountNonFinite(ReadOnlySpan<float> values)
    {
        int nan = 0, inf = 0;
        if (System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(values)) return (0, 0); // vector check; the count only when needed
        foreach (float v in values)
        {
            if (float.IsNaN(v)) nan++;
            else if (float.IsInfinity(v)) inf++;
        }
        return (nan, inf);
    }

    private static string Describe(int nan, int inf) =>
        nan > 0 && inf > 0 ? $"{nan} NaN and {inf} infinite values" : nan > 0 ? $"{nan} NaN value{(nan == 1 ? "" : "s")}" : $"{inf} infinite value{(inf == 1 ? "" : "s")}";

    private static List<string> NonFiniteWeights(OnnxModel model, UnravelPlan plan)
    {
        var warnings = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in plan.Nodes.Reverse())
        {
            var rule = RuleSet.Default.Find(node);
            if (rule == null) continue;
            foreach (var name in rule.ConstantsRead(node, model))
            {
                if (!seen.Add(name) || model.TryGetConstant(name) is not { IsFloat: true } c) continue;
                var (nan, inf) = CountNonFinite(c.ToFloats());
                if (nan + inf > 0)
                    warnings.Add($"weights '{name}' of {node.Describe()} hold {Describe(nan, inf)}");
            }
        }
        return warnings;
    }

    /// <summary>One line for each tensor the walk went through (the input included) that holds NaN or infinite values.</summary>
    private static List<string> NonFiniteActivations(IReadOnlyList<string> tensors, IReadOnlyDictionary<string, TensorValue> forward)
    {
        var warnings = new List<string>();
        foreach (var tensor in tensors)
        {
            if (!forward.TryGetValue(tensor, out var value)) continue;
            var (nan, inf) = CountNonFinite(value.Data);
            if (nan + inf > 0)
                warnings.Add($"activation '{tensor}' holds {Describe(nan, inf)} of {value.Length}: fixations are not followed through them");
        }
        return warnings;
    }

    /// <summary>Runs the forward pass and unravels the given class (null: the top-1 class).</summary>
    public TensorExplanation Explain(TensorValue input, int? target = null)
    {
        var sw = Stopwatch.StartNew();
        using var values = Forward(input);
        double forwardMs = sw.Elapsed.TotalMilliseconds;
        var logits = values[LogitsTensor];
        int k = target ?? TopClasses(logits.Data, 1)[0];
        return Unravel(values, k, forwardMs);
    }

    /// <summary>Unravels class <paramref name="target"/> from an earlier <see cref="Forward"/>.</summary>
    public TensorExplanation Unravel(IReadOnlyDictionary<string, TensorValue> forward, int target, double forwardMs = 0)
    {
        var logits = forward[LogitsTensor];
        if (target < 0 || target >= logits.Length)
            throw new CnnFixationsException($"class index {target} is out of range: the model has {logits.Length} classes (0..{logits.Length - 1})");
        if (StartTensor != LogitsTensor) throw new InvalidOperationException("this explainer walks from " + StartTensor);
        var sw = Stopwatch.StartNew();
        var start = new Unravel.FixationSet(LogitsTensor, logits.Shape);
        start.Add(target);
        UnravelResult result;
        WeightedResult? weights = null;
        if (Options.Rules == RuleFamily.Weighted)
        {
            weights = new WeightedWalk(Model, _plan, RuleSet.Default, Options, forward, _shapes) { Threads = _threads, Buffers = _weightBuffers, Graphs = _weightedGraphs }.RunFromClass(LogitsTensor, target);
            result = WeightedFixations(weights, start);
        }
        else
            result = new UnravelWalk(Model, _plan, RuleSet.Default, Options, forward, _shapes) { Threads = _threads }.Run(start);
        double unravelMs = sw.Elapsed.TotalMilliseconds;
        var warnings = WeightWarnings.Concat(NonFiniteActivations(weights != null ? _plan.Tensors.Append(Model.InputName).ToList() : result.Layers.Select(l => l.Tensor).ToList(), forward)).ToArray();
        return new TensorExplanation(logits.Data, Predict(logits.Data, 5), target, logits.Data[target], result, forwardMs, unravelMs)
        {
            TargetLabel = Labels?[target],
            Warnings = warnings,
            Weights = weights,
        };
    }

    /// <summary>
    /// The input fixations of a weighted walk: the heaviest input pixels that together hold
    /// <see cref="UnravelOptions.FixationMass"/> of the weight (a pixel's weight summed over its channels;
    /// equal weights in row-major order), one neuron per pixel: its heaviest channel (the first of equals).
    /// </summary>
    private UnravelResult WeightedFixations(WeightedResult weights, Unravel.FixationSet start)
    {
        var shape = weights.InputShape;
        var set = new Unravel.FixationSet(Model.InputName, shape);
        int channels = shape.Length == 4 ? shape[1] : 1, plane = shape[^2] * shape[^1];
        var pixel = new double[plane];
        double total = 0;
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < plane; p++)
            {
                float v = weights.Input[c * plane + p];
                if (v > 0) { pixel[p] += v; total += v; }
            }
        double target = Options.FixationMass * total;
        // The heaviest pixels until they hold the target: usually a small part of the image, so only the pixels that can be
        // among them are sorted; should they not reach it (rounding), all are.
        var heaviest = HeaviestFirst(pixel, target);
        if (!Reaches(heaviest, pixel, target)) heaviest = HeaviestFirst(pixel);
        double acc = 0;
        foreach (int p in heaviest)
        {
            if (acc >= target) break;
            acc += pixel[p];
            int best = 0;
            for (int c = 1; c < channels; c++)
                if (weights.Input[c * plane + p] > weights.Input[best * plane + p]) best = c;
            set.Add(best * plane + p);
        }
        var layers = new List<Unravel.FixationSet> { start, set };
        return new UnravelResult(set, layers, new Dictionary<string, double>(), Array.Empty<(string, double)>());
    }

    private static bool Reaches(int[] order, double[] values, double target)
    {
        double acc = 0;
        foreach (int p in order)
        {
            if (acc >= target) return true;
            acc += values[p];
        }
        return acc >= target;
    }

    /// <summary>
    /// The start of <see cref="HeaviestFirst(double[])"/>'s order that holds at least <paramref name="target"/> (the same
    /// indices in the same order, and at least one value group more): the positive values are grouped by their leading
    /// bits (positive doubles order as their bit patterns), the groups from the top are taken until their sum passes the
    /// target, one more for rounding, and only those values are sorted.
    /// </summary>
    internal static int[] HeaviestFirst(double[] values, double target)
    {
        long lo = long.MaxValue, hi = long.MinValue;
        foreach (double v in values)
            if (v > 0 && !double.IsInfinity(v))
            {
                long key = BitConverter.DoubleToInt64Bits(v) >> 44;
                if (key < lo) lo = key;
                if (key > hi) hi = key;
            }
        if (lo > hi || hi - lo > 1 << 20) return HeaviestFirst(values);
        var mass = new double[hi - lo + 1];
        foreach (double v in values)
            if (v > 0 && !double.IsInfinity(v)) mass[(BitConverter.DoubleToInt64Bits(v) >> 44) - lo] += v;
        long cut = 0;
        double sum = 0;
        bool passed = false;
        for (long k = hi - lo; k >= 0; k--)
        {
            sum += mass[k];
            cut = k;
            if (passed) break;
            if (sum >= target) passed = true;
        }
        long threshold = cut + lo;
        return HeaviestFirst(values, v => double.IsInfinity(v) || BitConverter.DoubleToInt64Bits(v) >> 44 >= threshold);
    }

    /// <summary>The indices of the positive values, largest value first, equal values by index.</summary>
    internal static int[] HeaviestFirst(double[] values) => HeaviestFirst(values, _ => true);

    private static int[] HeaviestFirst(double[] values, Func<double, bool> take)
    {
        int count = 0;
        foreach (double v in values) if (v > 0 && take(v)) count++;
        var keys = new double[count];
        var indices = new int[count];
        for (int p = 0, i = 0; p < values.Length; p++)
            if (values[p] > 0 && take(values[p])) { keys[i] = -values[p]; indices[i++] = p; }
        Array.Sort(keys, indices);
        // The sort is not stable: put each run of equal values back in index order.
        for (int start = 0, end; start < count; start = end)
        {
            for (end = start + 1; end < count && keys[end] == keys[start]; end++) { }
            if (end - start > 1) Array.Sort(indices, start, end - start);
        }
        return indices;
    }

    /// <summary>Unravels from a neuron or channel of the start tensor (any layer); the prediction is reported alongside.</summary>
    public TensorExplanation UnravelFrom(IReadOnlyDictionary<string, TensorValue> forward, StartPoint start, double forwardMs = 0)
    {
        if (start.Tensor != StartTensor) throw new InvalidOperationException($"this explainer walks from {StartTensor}, not {start.Tensor}");
        var sw = Stopwatch.StartNew();
        var set = start.Neurons(forward[StartTensor]);
        if (Options.Rules == RuleFamily.Weighted)
        {
            // The weighted walk from inner neurons: each starts with its activation (positive part), normalized to sum 1.
            var a = forward[StartTensor].Data;
            var w = new float[a.Length];
            double total = 0;
            foreach (int i in set.Indices()) if (a[i] > 0) total += a[i];
            foreach (int i in set.Indices()) if (a[i] > 0 && total > 0) w[i] = (float)(a[i] / total);
            return WeightedFrom(forward, w, set, sw, forwardMs) with { Start = start };
        }
        var result = new UnravelWalk(Model, _plan, RuleSet.Default, Options, forward, _shapes) { Threads = _threads }.Run(set);
        return WithPrediction(forward, result, null, forwardMs, sw) with { Start = start };
    }

    /// <summary>
    /// The weighted walk from given weights on the start tensor's neurons (e.g. the weights a caption decoder's
    /// weighted walk carried to the feature); needs the weighted rules.
    /// </summary>
    public TensorExplanation UnravelFromWeights(IReadOnlyDictionary<string, TensorValue> forward, float[] startWeights)
    {
        if (Options.Rules != RuleFamily.Weighted) throw new InvalidOperationException("weights start the weighted walk only");
        var a = forward[StartTensor];
        if (startWeights.Length != a.Length) throw new ArgumentException($"{startWeights.Length} weights for the {a.Length} neurons of {StartTensor}", nameof(startWeights));
        var sw = Stopwatch.StartNew();
        var set = new Unravel.FixationSet(StartTensor, a.Shape);
        for (int i = 0; i < startWeights.Length; i++) if (startWeights[i] > 0) set.Add(i);
        return WeightedFrom(forward, startWeights, set, sw, 0);
    }

    /// <summary>The weighted walk from <paramref name="weights"/> on the start tensor (<paramref name="set"/>: its neurons, reported as the first layer).</summary>
    private TensorExplanation WeightedFrom(IReadOnlyDictionary<string, TensorValue> forward, float[] weights, Unravel.FixationSet set, Stopwatch sw, double forwardMs)
    {
        var walked = new WeightedWalk(Model, _plan, RuleSet.Default, Options, forward, _shapes) { Threads = _threads, Buffers = _weightBuffers, Graphs = _weightedGraphs }.RunFromWeights(weights);
        return WithPrediction(forward, WeightedFixations(walked, set), walked, forwardMs, sw);
    }

    /// <summary>A walk from an inner tensor, reported with the forward pass's top-1 prediction.</summary>
    private TensorExplanation WithPrediction(IReadOnlyDictionary<string, TensorValue> forward, UnravelResult result, WeightedResult? weights, double forwardMs, Stopwatch sw)
    {
        var logits = forward[LogitsTensor];
        int top = TopClasses(logits.Data, 1)[0];
        return new TensorExplanation(logits.Data, Predict(logits.Data, 5), top, logits.Data[top], result, forwardMs, sw.Elapsed.TotalMilliseconds)
        {
            TargetLabel = Labels?[top],
            Weights = weights,
        };
    }

    /// <summary>Unravels from any set of neurons of the start tensor (e.g. the feature dimensions a caption decoder chose: a union of channels).</summary>
    public UnravelResult UnravelSet(IReadOnlyDictionary<string, TensorValue> forward, FixationSet start)
    {
        if (start.Tensor != StartTensor) throw new InvalidOperationException($"this explainer walks from {StartTensor}, not {start.Tensor}");
        return new UnravelWalk(Model, _plan, RuleSet.Default, Options, forward, _shapes) { Threads = _threads }.Run(start);
    }

    /// <summary>The number of classes in a forward pass's scores.</summary>
    public int ClassCount(IReadOnlyDictionary<string, TensorValue> forward) => forward[LogitsTensor].Length;

    /// <summary>The static shape of a tensor for the model's fixed input size (null when unknown).</summary>
    public int[]? TensorShape(string tensor) =>
        _shapes != null && _shapes.TryGetValue(tensor, out var s) ? s : Model.IsConstant(tensor) ? Model.TryGetConstant(tensor)?.Shape : null;

    /// <summary>The top <paramref name="count"/> classes with softmax probabilities (ties: lower index first).</summary>
    public IReadOnlyList<Prediction> Predict(float[] logits, int count)
    {
        var p = Softmax(logits);
        return TopClasses(logits, count).Select(i => new Prediction(i, Labels?[i], p[i])).ToList();
    }

    /// <summary>Softmax probabilities of the logits, computed in double precision.</summary>
    public static double[] Softmax(float[] logits)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        var result = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += result[i] = Math.Exp(logits[i] - max);
        for (int i = 0; i < logits.Length; i++) result[i] /= sum;
        return result;
    }

    /// <summary>The indices of the <paramref name="count"/> highest logits, highest first (ties: lower index first; NaN never).</summary>
    public static int[] TopClasses(float[] logits, int count)
    {
        var order = Enumerable.Range(0, logits.Length)
            .Where(i => !float.IsNaN(logits[i]))
            .OrderByDescending(i => logits[i]).ThenBy(i => i)
            .Take(count).ToArray();
        if (order.Length == 0) throw new CnnFixationsException("every logit is NaN: the model's output is not usable");
        return order;
    }

    private void CheckInput(TensorValue input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var declared = Model.InputShape;
        if (declared.Length == 4 && input.Rank == 4 && declared[1] > 0 && declared[1] != input.Shape[1])
            throw new CnnFixationsException(
                $"the model expects {declared[1]} input channel{(declared[1] == 1 ? "" : "s")} ({Shapes.Format(declared)}), the input has {input.Shape[1]} ({Shapes.Format(input.Shape)})" +
                (input.Shape[1] == 3 ? "; images are read as RGB: give a matching tensor with --input-tensor" : ""));
        if (declared.Length != 0 && declared.Length != input.Rank)
            throw new CnnFixationsException($"the input tensor has shape {Shapes.Format(input.Shape)}, the model expects rank {declared.Length} ({Shapes.Format(declared)})");
        for (int i = 0; i < declared.Length; i++)
            if (declared[i] > 0 && declared[i] != input.Shape[i])
                throw new CnnFixationsException($"the input tensor has shape {Shapes.Format(input.Shape)}, the model expects {Shapes.Format(declared)}");
        if (input.Rank != 4 || input.Shape[0] != 1)
            throw new CnnFixationsException($"the input tensor has shape {Shapes.Format(input.Shape)}; a [1,C,H,W] image tensor is needed");
    }

    private int _disposed;

    /// <summary>
    /// Releases every ONNX Runtime session of this model: the forward pass's and the gradient sessions that
    /// CAM, Grad-CAM and the gradient method created. The explainer cannot be used afterwards.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Gradients.Dispose();
        try { _graphWarmUp?.Wait(); } catch (AggregateException) { }
        _weightedGraphs.Dispose();
        _session.Dispose();
    }
}
