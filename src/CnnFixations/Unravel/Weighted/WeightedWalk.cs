using CnnFixations.Maps;
using CnnFixations.Baselines;
using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// Weight buffers of the weighted walk by exact length, kept between walks (an explainer holds one): a buffer
/// is given back when its tensor's weights have been distributed and is zeroed when taken again, so that walks
/// reuse memory instead of allocating (and the system zeroing) fresh pages. At most 256 MB are kept. Thread-safe.
/// </summary>
internal sealed class WeightBuffers
{
    private const long MaxBytes = 256L << 20;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, System.Collections.Concurrent.ConcurrentBag<float[]>> _free = new();
    private long _bytes;

    /// <summary>A zeroed buffer of <paramref name="length"/> floats.</summary>
    public float[] Take(int length)
    {
        if (_free.TryGetValue(length, out var bag) && bag.TryTake(out var buffer))
        {
            Interlocked.Add(ref _bytes, -4L * length);
            Array.Clear(buffer);
            return buffer;
        }
        return new float[length];
    }

    public void Give(float[] buffer)
    {
        if (Interlocked.Add(ref _bytes, 4L * buffer.Length) > MaxBytes)
        {
            Interlocked.Add(ref _bytes, -4L * buffer.Length);
            return;
        }
        _free.GetOrAdd(buffer.Length, _ => new()).Add(buffer);
    }
}

/// <summary>The result of a weighted walk: the weight that reached every neuron of the network input.</summary>
public sealed class WeightedResult
{
    internal WeightedResult(float[] input, int[] inputShape, IReadOnlyList<string> headTensors, double headMass)
    {
        Input = input;
        InputShape = inputShape;
        HeadTensors = headTensors;
        HeadMass = headMass;
    }

    /// <summary>Weight of every input neuron, row-major over <see cref="InputShape"/>; sums to about 1 (what padding absorbs is lost).</summary>
    public float[] Input { get; }
    public int[] InputShape { get; }

    /// <summary>The tensors where the linear head ended and the weights were first formed (see <see cref="WeightedWalk"/>).</summary>
    public IReadOnlyList<string> HeadTensors { get; }

    /// <summary>The total positive contribution found at the head tensors before normalization (0: nothing supports the target).</summary>
    public double HeadMass { get; }

    /// <summary>Every tensor that received weight, in walk order (the input last).</summary>
    public IReadOnlyList<string> Tensors { get; init; } = Array.Empty<string>();

    /// <summary>Time spent in each node the walk went through, in walk order, for profiling.</summary>
    public IReadOnlyList<(string Node, double Ms)> NodeMilliseconds { get; init; } = Array.Empty<(string, double)>();
}

/// <summary>
/// The weighted walk (<c>--rules weighted</c>, the default; docs/cnn-fixations.md, "Weighted rules").
/// <list type="number">
/// <item>Head: from the target logit down through the ops that are linear in their data input (Gemm,
/// MatMul, Conv, pooling by averaging, reshapes, Q/DQ, constant affine ops) the target's coefficient on
/// every neuron is carried exactly; contrastive by default (the target's logit minus the mean of the
/// other classes' logits, weighted by their probabilities). Where the first non-linear op is met the contributions coefficient x activation
/// are formed; on a spatial tensor they are summed per position, and a position keeps weight
/// <c>max(0, sum)</c>, shared among its channels in proportion to their positive contributions.</item>
/// <item>Below: every rule shares each neuron's weight among its inputs in proportion to their positive
/// contributions (activation x weight), mixed with an even share over the window (<see cref="UnravelOptions.FlatShare"/>).</item>
/// </list>
/// The weights are accumulated in a fixed order, so the result is the same on every run and thread count.
/// </summary>
public sealed class WeightedWalk
{
    private readonly UnravelPlan _plan;
    private readonly RuleSet _rules;
    private readonly ForwardValues _values;
    private readonly Dictionary<string, float[]> _weights = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();
    // Which tensor owns each weight buffer (a pass-through op hands its output's buffer to its input), the tensors
    // whose weights were distributed, and those whose buffers went back to Buffers (for later tensors of the same size).
    private readonly Dictionary<float[], string> _owner = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _distributed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recycled = new(StringComparer.Ordinal);

    public WeightedWalk(OnnxModel model, UnravelPlan plan, RuleSet rules, UnravelOptions options, IReadOnlyDictionary<string, TensorValue> activations,
        IReadOnlyDictionary<string, int[]>? shapes = null)
    {
        Model = model;
        _values = new ForwardValues(model, activations, shapes);
        _plan = plan;
        _rules = rules;
        Options = options;
    }

    public OnnxModel Model { get; }
    public UnravelOptions Options { get; }
    public int Threads { get; init; }

    /// <summary>
    /// Where weight buffers are taken from and given back to once a tensor's weights are distributed (zeroed when
    /// taken again): an explainer keeps one for all its walks, so that walks reuse memory instead of allocating it.
    /// With buffers, a pass-through op also hands its output's buffer to an input that has none yet (see
    /// <see cref="WeightedStep.PassThrough"/>). Null (the default): every tensor keeps a buffer of its own, and
    /// <see cref="WeightsOf"/> shows it after the walk.
    /// </summary>
    internal WeightBuffers? Buffers { get; init; }

    /// <summary>The graphs of the walk below the head (<see cref="WalkEngine.Onnx"/>); null: the managed rules run.</summary>
    internal WeightedGraphs? Graphs { get; init; }

    /// <summary>Ops that are linear in their data inputs (bias and offsets ignored), walked exactly by the head.</summary>
    internal static readonly HashSet<string> LinearOps = new(StringComparer.Ordinal)
    {
        "Gemm", "MatMul", "Conv", "GlobalAveragePool", "ReduceMean", "AveragePool", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
        "Identity", "Dropout", "Cast", "QuantizeLinear", "DequantizeLinear", "BatchNormalization", "Concat", "Pad", "Transpose",
        "Add", "Sub", "Mul", "Div",
    };

    /// <summary>Walks from class <paramref name="target"/> of the logits tensor <paramref name="logits"/> (the plan's start).</summary>
    public WeightedResult RunFromClass(string logits, int target)
    {
        var value = Activation(logits, null);
        int n = value.Length;
        var seed = new float[n];
        if (Options.Contrast == Contrast.Mean && n > 1)
            Array.Fill(seed, -1f / (n - 1));
        else if (Options.Contrast == Contrast.Softmax && n > 1)
        {
            // d log p_t / d z = e_t - p, scaled by 1 / (1 - p_t): z_t minus the probability-weighted mean of the other logits.
            var p = Explainer.Softmax(value.Data);
            double rest = 1 - p[target], share = Options.SoftmaxShare;
            for (int k = 0; k < n; k++)
                seed[k] = (float)(-(rest > 0 ? share * p[k] / rest : 0) - (rest > 0 ? 1 - share : 1) / (n - 1));
        }
        seed[target] = 1;
        var heads = Head(logits, seed);
        return Run(heads);
    }

    /// <summary>Walks from given weights on the plan's start tensor (e.g. a channel of an inner tensor).</summary>
    public WeightedResult RunFromWeights(float[] start)
    {
        // A copy: the walk hands its buffers on and back to the pool, and the caller's array must stay as it was.
        var heads = new Dictionary<string, float[]>(StringComparer.Ordinal) { [_plan.StartTensor] = (float[])start.Clone() };
        double total = 0;
        foreach (float v in start) total += v;
        return Run((heads, new[] { _plan.StartTensor }, total));
    }

    /// <summary>
    /// The linear head: the coefficient of the start on each tensor reached through linear ops, then the
    /// contributions at the first tensors that a non-linear op produced (or the network input).
    /// </summary>
    private (Dictionary<string, float[]> Weights, string[] Heads, double Mass) Head(string logits, float[] seed)
    {
        var coefficients = new Dictionary<string, float[]>(StringComparer.Ordinal) { [logits] = seed };
        var frontier = new List<string>();
        foreach (var node in _plan.Nodes)
        {
            string output = node.Outputs[0];
            if (!coefficients.TryGetValue(output, out var dy)) continue;
            bool linear = node.IsDefaultDomain && LinearOps.Contains(node.OpType) && IsLinearHere(node);
            if (!linear)
            {
                frontier.Add(output);
                continue;
            }
            var forward = new ActivationView(this, node);
            BackwardOps.Apply(new BackwardContext(Model, node, forward, dy, coefficients));
            coefficients.Remove(output);
        }
        if (coefficients.ContainsKey(Model.InputName)) frontier.Add(Model.InputName);

        var weights = new Dictionary<string, float[]>(StringComparer.Ordinal);
        double mass = 0;
        foreach (var tensor in frontier.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var g = coefficients[tensor];
            var a = Activation(tensor, null);
            var w = new float[a.Length];
            if (Shapes.TryChw(a.Shape, out int c, out int h, out int wd) && h * wd > 1)
            {
                int plane = h * wd;
                for (int p = 0; p < plane; p++)
                {
                    double net = 0, positive = 0;
                    for (int k = 0; k < c; k++)
                    {
                        double z = (double)g[k * plane + p] * a.Data[k * plane + p];
                        if (double.IsNaN(z)) continue;
                        net += z;
                        if (z > 0) positive += z;
                    }
                    if (!(net > 0) || !(positive > 0)) continue;
                    mass += net;
                    for (int k = 0; k < c; k++)
                    {
                        double z = (double)g[k * plane + p] * a.Data[k * plane + p];
                        if (z > 0) w[k * plane + p] = (float)(net * z / positive);
                    }
                }
            }
            else
            {
                for (int i = 0; i < w.Length; i++)
                {
                    double z = (double)g[i] * a.Data[i];
                    if (z > 0) { w[i] = (float)z; mass += z; }
                }
            }
            weights[tensor] = w;
        }
        if (mass > 0)
            foreach (var w in weights.Values)
                for (int i = 0; i < w.Length; i++) w[i] = (float)(w[i] / mass);
        return (weights, frontier.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(), mass);
    }

    /// <summary>
    /// Where the linear head from <paramref name="logits"/> ends (what <see cref="RunFromClass"/> reports as
    /// <see cref="WeightedResult.HeadTensors"/>), found from the graph alone: every linear op passes the coefficient to
    /// its non-constant inputs. Used to build the walk's graph before the first forward pass.
    /// </summary>
    internal static string[] HeadTensorsOf(OnnxModel model, UnravelPlan plan, string logits)
    {
        var reached = new HashSet<string>(StringComparer.Ordinal) { logits };
        var frontier = new List<string>();
        foreach (var node in plan.Nodes)
        {
            if (node.Outputs.Count == 0 || !reached.Contains(node.Outputs[0])) continue;
            if (!(node.IsDefaultDomain && LinearOps.Contains(node.OpType) && IsLinearHere(model, node)))
            {
                frontier.Add(node.Outputs[0]);
                continue;
            }
            reached.Remove(node.Outputs[0]);
            foreach (var input in node.Inputs)
                if (input.Length > 0 && !model.IsConstant(input)) reached.Add(input);
        }
        if (reached.Contains(model.InputName)) frontier.Add(model.InputName);
        return frontier.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Whether a node of <see cref="LinearOps"/> is linear here: Gemm, MatMul, Conv, Mul and Div need a
    /// constant weight or factor (Div: the divisor), Add, Sub and the rest are linear as they stand.
    /// </summary>
    private bool IsLinearHere(GraphNode node) => IsLinearHere(Model, node);

    private static bool IsLinearHere(OnnxModel model, GraphNode node)
    {
        bool Const(int i) => node.InputOrNull(i) is { } t && model.IsConstant(t);
        return node.OpType switch
        {
            "Gemm" or "Conv" => !Const(0) && Const(1),
            "MatMul" or "Mul" => Const(0) != Const(1),
            "Div" => !Const(0) && Const(1),
            _ => true,
        };
    }

    private WeightedResult Run((Dictionary<string, float[]> Weights, string[] Heads, double Mass) head)
    {
        // The head's weight per position, for the cell rule below: summed over the channels of every spatial
        // head tensor (several where the head ends at the branches of a Concat: GoogLeNet, Inception), so that
        // the cells hold all of the head's weight. The grid is the first spatial tensor's; others of another
        // size cannot be placed on it and are left out of the cell rule.
        float[]? cells = null;
        int cellH = 0, cellW = 0;
        string? cellTensor = null;
        foreach (var tensor in head.Heads)
        {
            var shape = Shape(tensor, null);
            if (!(Options.CellShare > 0) || !Shapes.TryChw(shape, out int c, out int h, out int w) || h * w <= 1) continue;
            if (cells == null)
            {
                cells = new float[h * w];
                (cellH, cellW) = (h, w);
                cellTensor = tensor;
            }
            else if (h != cellH || w != cellW) continue;
            var weights = head.Weights[tensor];
            for (int k = 0; k < c; k++)
                for (int p = 0; p < h * w; p++) cells[p] += weights[k * h * w + p];
        }
        var nodeMs = new List<(string, double)>();
        var inputShape = Shape(Model.InputName, null);
        var (graphInput, graphTensors) = RunGraph(head.Heads, head.Weights, inputShape);
        foreach (var (tensor, w) in head.Weights) { _weights[tensor] = w; _order.Add(tensor); _owner[w] = tensor; }
        foreach (var node in graphInput != null ? Array.Empty<GraphNode>() : _plan.Nodes)
        {
            if (node.Outputs.Count == 0 || !_weights.TryGetValue(node.Outputs[0], out var output)) continue;
            if (!HasWeight(output)) continue;
            var rule = _rules.Require(node);
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            rule.Distribute(new WeightedStep(this, node, output, Shape(node.Outputs[0], node)));
            Release(node.Outputs[0], output);
            nodeMs.Add(($"{node.OpType} {node.Name}", System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds));
        }
        var input = graphInput ?? (_weights.TryGetValue(Model.InputName, out var wi) ? wi : new float[Shapes.ElementCount(inputShape)]);
        if (cells != null && Shapes.TryChw(inputShape, out int ic, out int ih, out int iw))
        {
            var rf = Options.CellGrid != CellGrid.Centres ? null : ReceptiveField.Of(Model, cellTensor!, _values.KnownShape);
            var rows = Options.CellGrid == CellGrid.Bilinear ? TentMembership(ih, cellH) : Membership(ih, cellH, rf == null ? null : i => rf.RawCentre(i, 0).Y);
            var cols = Options.CellGrid == CellGrid.Bilinear ? TentMembership(iw, cellW) : Membership(iw, cellW, rf == null ? null : j => rf.RawCentre(0, j).X);
            KeepCells(input, ic, ih, iw, cells, cellW, rows, cols, Options.CellShare);
        }
        var reached = graphTensors?.ToList() ?? _order.Where(t => _distributed.Contains(t) || _weights.TryGetValue(t, out var w) && HasWeight(w)).ToList();
        return new WeightedResult(input, inputShape, head.Heads, head.Mass) { NodeMilliseconds = nodeMs, Tensors = reached };
    }

    /// <summary>
    /// The walk below the head in ONNX Runtime (<see cref="WalkEngine.Onnx"/>): the input's weights and the tensors
    /// walked, or nulls when the walk has no ONNX form, an activation is missing, or the result is not finite (then
    /// the managed rules run).
    /// </summary>
    private (float[]? Input, IReadOnlyList<string>? Tensors) RunGraph(string[] heads, Dictionary<string, float[]> weights, int[] inputShape)
    {
        if (Graphs == null || Options.WalkEngine != WalkEngine.Onnx) return (null, null);
        var session = Graphs.For(heads, inputShape, _values.KnownShape);
        if (session == null) return (null, null);
        var input = session.Run(heads.Select(h => weights[h]).ToArray(), _values.Activations);
        if (input == null)
        {
            Graphs.Fallback("an activation that the walk's graph reads was not fetched or has another shape");
            return (null, null);
        }
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(input))
        {
            Graphs.Fallback("the walk's graph gave NaN or infinite weights (from NaN or infinite activations)");
            return (null, null);
        }
        return (input, session.Graph.Tensors);
    }

    /// <summary>
    /// Soft cells (<see cref="CellGrid.Bilinear"/>): cell i is centred at <c>(i + 1/2) * size / cells</c>; input row y
    /// (centre y + 1/2) belongs to the two cells whose centres enclose it, by linear interpolation (the weights of
    /// bilinear upsampling), and wholly to the first or last cell beyond the outer centres. Parts sum to 1 and the
    /// split is mirror-symmetric.
    /// </summary>
    private static (int Cell, double Part)[][] TentMembership(int size, int cells) =>
        CellInterpolation.Along(size, cells, size, cells)
            .Select(c => c.Part == 0 ? new[] { (c.Lo, 1.0) } : new[] { (c.Lo, 1 - c.Part), (c.Hi, c.Part) })
            .ToArray();

    /// <summary>
    /// Which cell row (or column) each input row (or column) belongs to: the head position whose receptive-field
    /// centre is nearest (an input row halfway between two centres belongs half to each, so no side is
    /// preferred); with <see cref="CellGrid.Blocks"/> or without a receptive field (a head reached through
    /// non-window ops), equal blocks (cell i spans rows <c>[i * size / cells, (i + 1) * size / cells)</c>; a row
    /// that straddles two blocks belongs to each by its overlap).
    /// </summary>
    private static (int Cell, double Part)[][] Membership(int size, int cells, Func<int, long>? centre)
    {
        var result = new (int, double)[size][];
        for (int y = 0; y < size; y++)
        {
            if (centre == null)
            {
                // Equal blocks: cell i spans [i * size / cells, (i + 1) * size / cells); row y's part in it is the overlap
                // of [y, y + 1) with that span (exact in units of 1/cells), so the split is mirror-symmetric.
                var parts = new List<(int, double)>(2);
                for (int i = (int)((long)y * cells / size); i < cells && (long)i * size < (long)(y + 1) * cells; i++)
                {
                    long overlap = Math.Min((long)(y + 1) * cells, (long)(i + 1) * size) - Math.Max((long)y * cells, (long)i * size);
                    if (overlap > 0) parts.Add((i, (double)overlap / cells));
                }
                result[y] = parts.ToArray();
                continue;
            }
            long best = long.MaxValue;
            for (int i = 0; i < cells; i++) best = Math.Min(best, Math.Abs(y - centre(i)));
            var nearest = Enumerable.Range(0, cells).Where(i => Math.Abs(y - centre(i)) == best).ToArray();
            result[y] = nearest.Select(i => (i, 1.0 / nearest.Length)).ToArray();
        }
        return result;
    }

    /// <summary>
    /// The cell rule: every input pixel belongs to the head position(s) of its row and column
    /// (<see cref="Membership"/>); each cell's weight is rescaled to the weight of its head position (for the
    /// share <see cref="UnravelOptions.CellShare"/>; the rest stays where the walk put it), so that the walk only
    /// moves weight within a cell (evenly over the cell's pixels when the walk brought none there). The class
    /// evidence of the head stays where the head found it.
    /// </summary>
    private static void KeepCells(float[] input, int channels, int h, int w, float[] cells, int cellW, (int Cell, double Part)[][] rows,
        (int Cell, double Part)[][] cols, double share)
    {
        int plane = h * w;
        var totals = new double[cells.Length];
        var pixels = new double[cells.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double sum = 0;
                for (int c = 0; c < channels; c++) sum += input[c * plane + y * w + x];
                foreach (var (r, pr) in rows[y])
                    foreach (var (q, pq) in cols[x])
                    {
                        pixels[r * cellW + q] += pr * pq;
                        totals[r * cellW + q] += pr * pq * sum;
                    }
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < channels; c++)
                {
                    int i = c * plane + y * w + x;
                    double kept = 0;
                    foreach (var (r, pr) in rows[y])
                        foreach (var (q, pq) in cols[x])
                        {
                            int cell = r * cellW + q;
                            kept += pr * pq * (totals[cell] > 0 ? input[i] * cells[cell] / totals[cell] : cells[cell] / (pixels[cell] * channels));
                        }
                    input[i] = (float)(share * kept + (1 - share) * input[i]);
                }
    }

    private static bool HasWeight(float[] w)
    {
        foreach (float v in w) if (v > 0) return true;
        return false;
    }

    internal TensorValue Activation(string tensor, GraphNode? node) => _values.Activation(tensor, node);

    internal int[] Shape(string tensor, GraphNode? node) => _values.Shape(tensor, node);

    internal ConstTensor Constant(string tensor, GraphNode node) => _values.Constant(tensor, node);

    /// <summary>Makes <paramref name="weights"/> the weight buffer of <paramref name="tensor"/> if it has none yet.</summary>
    internal bool Adopt(string tensor, float[] weights)
    {
        if (Buffers == null || _weights.ContainsKey(tensor)) return false;
        _weights[tensor] = weights;
        _order.Add(tensor);
        _owner[weights] = tensor;
        return true;
    }

    internal float[] WeightsOf(string tensor, GraphNode node)
    {
        if (_recycled.Contains(tensor))
            // Its weights were distributed and its buffer reused: what is added now reaches nothing (as when it was kept).
            return new float[Shapes.ElementCount(Shape(tensor, node))];
        if (!_weights.TryGetValue(tensor, out var w))
        {
            int length = checked((int)Shapes.ElementCount(Shape(tensor, node)));
            // The network input's weights are the result: a buffer of its own.
            w = tensor == Model.InputName || Buffers == null ? new float[length] : Buffers.Take(length);
            _weights[tensor] = w;
            _order.Add(tensor);
            _owner[w] = tensor;
        }
        return w;
    }

    /// <summary>After a node distributed the weights of its output: the buffer goes back to <see cref="Buffers"/> unless an input took it over.</summary>
    private void Release(string tensor, float[] weights)
    {
        _distributed.Add(tensor);
        if (Buffers != null && _owner.TryGetValue(weights, out var owner) && owner == tensor)
        {
            _owner.Remove(weights);
            _recycled.Add(tensor);
            Buffers.Give(weights);
        }
    }

    /// <summary>Forward values for the backward rules of the head (activations and constants).</summary>
    private sealed class ActivationView(WeightedWalk walk, GraphNode node) : IReadOnlyDictionary<string, TensorValue>
    {
        public TensorValue this[string key] => walk.Activation(key, node);
        public IEnumerable<string> Keys => throw new NotSupportedException();
        public IEnumerable<TensorValue> Values => throw new NotSupportedException();
        public int Count => throw new NotSupportedException();
        public bool ContainsKey(string key) => walk._values.Activations.ContainsKey(key);
        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TensorValue value) => walk._values.Activations.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, TensorValue>> GetEnumerator() => throw new NotSupportedException();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
