using CnnFixations.Onnx;

namespace CnnFixations.Captioning;

/// <summary>A linear layer y = W x + b read from the decoder graph: W is [Out, In] row-major; optionally followed by Tanh.</summary>
public sealed record LinearLayer(float[] Weight, float[] Bias, int Out, int In, bool Tanh)
{
    public double[] Apply(ReadOnlySpan<double> x)
    {
        var y = new double[Out];
        for (int o = 0; o < Out; o++)
        {
            double s = Bias[o];
            for (int i = 0; i < In; i++) s += (double)Weight[o * In + i] * x[i];
            y[o] = Tanh ? Math.Tanh(s) : s;
        }
        return y;
    }
}

/// <summary>The values of one LSTM step, gates in the order i, f, g, o (PyTorch's), each of length H.</summary>
public sealed record LstmStep(double[] X, double[] HPrev, double[] CPrev, double[] I, double[] F, double[] G, double[] O, double[] C, double[] H, double[] Logits)
{
    /// <summary>For a first-step (image) step: the image part W_img f of the input; null for a word step.</summary>
    public double[]? ImagePart { get; init; }
    /// <summary>The token read at this step.</summary>
    public int Token { get; init; }
}

/// <summary>
/// The decoder step of a CNN-LSTM captioner, read from its ONNX graph: word embedding (Gather), the
/// image embedding (MatMul/Gemm from the feature input, first-step entry) or the initial-state
/// layers, one LSTM (the ONNX LSTM op) and the output layer (Gemm, or MatMul + Add). The step is
/// computed here from those weights in double precision (the walk needs the gate values, which the
/// LSTM op does not output). Gates are held in PyTorch's order i, f, g, o; ONNX stores i, o, f, c.
/// </summary>
public sealed class LstmDecoder
{
    /// <summary>ONNX LSTM block order i, o, f, c; index by canonical gate (i=0, f=1, g=2, o=3) for the ONNX block.</summary>
    public static readonly int[] OnnxBlockOfGate = { 0, 2, 3, 1 };

    public int Hidden { get; }
    public int EmbedSize { get; }
    public int VocabSize { get; }
    public int FeatureSize { get; }
    /// <summary>[V, E] word embeddings.</summary>
    public float[] Embedding { get; }
    /// <summary>First-step entry: the image embedding (no bias; the image token's embedding row is its bias).</summary>
    public LinearLayer? ImageEmbedding { get; }
    public LinearLayer? InitialH { get; }
    public LinearLayer? InitialC { get; }
    /// <summary>[4H, E] input weights, gates i, f, g, o.</summary>
    public float[] W { get; }
    /// <summary>[4H, H] recurrent weights, gates i, f, g, o.</summary>
    public float[] R { get; }
    /// <summary>[4H] bias (input + recurrent), gates i, f, g, o.</summary>
    public double[] B { get; }
    public LinearLayer Output { get; }

    internal LstmDecoder(float[] embedding, int embedSize, LinearLayer? image, LinearLayer? initH, LinearLayer? initC, float[] w, float[] r, double[] b, int hidden, LinearLayer output, int featureSize)
    {
        Embedding = embedding; EmbedSize = embedSize; ImageEmbedding = image; InitialH = initH; InitialC = initC;
        W = w; R = r; B = b; Hidden = hidden; Output = output; FeatureSize = featureSize;
        VocabSize = output.Out;
    }

    /// <summary>Initial state for the feature (zeros for first-step entry).</summary>
    public (double[] H, double[] C) InitialState(ReadOnlySpan<double> feature) =>
        (InitialH?.Apply(feature) ?? new double[Hidden], InitialC?.Apply(feature) ?? new double[Hidden]);

    /// <summary>One step: reads <paramref name="token"/> (plus W_img·feature when <paramref name="feature"/> is given).</summary>
    public LstmStep Step(int token, ReadOnlySpan<double> feature, double[] h, double[] c, bool imageStep)
    {
        if (token < 0 || token >= Embedding.Length / EmbedSize) throw new CnnFixationsException($"token {token} is outside the embedding table");
        var x = new double[EmbedSize];
        for (int j = 0; j < EmbedSize; j++) x[j] = Embedding[token * EmbedSize + j];
        double[]? imagePart = null;
        if (imageStep)
        {
            if (ImageEmbedding == null) throw new InvalidOperationException("this decoder has no image embedding");
            imagePart = ImageEmbedding.Apply(feature);
            for (int j = 0; j < EmbedSize; j++) x[j] += imagePart[j];
        }
        int n = Hidden;
        var z = new double[4 * n];
        for (int row = 0; row < 4 * n; row++)
        {
            double s = B[row];
            for (int j = 0; j < EmbedSize; j++) s += (double)W[row * EmbedSize + j] * x[j];
            for (int j = 0; j < n; j++) s += (double)R[row * n + j] * h[j];
            z[row] = s;
        }
        double[] i = new double[n], f = new double[n], g = new double[n], o = new double[n], c1 = new double[n], h1 = new double[n];
        for (int k = 0; k < n; k++)
        {
            i[k] = Sigmoid(z[k]);
            f[k] = Sigmoid(z[n + k]);
            g[k] = Math.Tanh(z[2 * n + k]);
            o[k] = Sigmoid(z[3 * n + k]);
            c1[k] = f[k] * c[k] + i[k] * g[k];
            h1[k] = o[k] * Math.Tanh(c1[k]);
        }
        var logits = Output.Apply(h1);
        return new LstmStep(x, h, c, i, f, g, o, c1, h1, logits) { ImagePart = imagePart, Token = token };
    }

    private static double Sigmoid(double v) => 1.0 / (1.0 + Math.Exp(-v));

    /// <summary>Reads the decoder from its ONNX graph; a graph that is not a one-LSTM captioner step is refused with one line.</summary>
    public static LstmDecoder FromOnnx(OnnxModel model, CaptionerManifest m)
    {
        string where = $"decoder '{m.DecoderModel}'";
        var inputs = model.Nodes.SelectMany(n => n.Inputs).Where(t => t.Length > 0).ToHashSet(StringComparer.Ordinal);
        foreach (var (role, name) in new[] { ("decoder.word", m.WordInput), ("decoder.feature", m.FeatureInput), ("decoder.h", m.HInput), ("decoder.c", m.CInput) })
            if (!inputs.Contains(name) || model.IsConstant(name))
                throw new CnnFixationsException($"{where}: the manifest's {role} '{name}' is not an input of the graph");
        var outputs = new List<(string, string)> { ("decoder.logits", m.LogitsOutput), ("decoder.hOut", m.HOutput), ("decoder.cOut", m.COutput) };
        if (m.InitialH != null) outputs.Add(("image.h", m.InitialH));
        if (m.InitialC != null) outputs.Add(("image.c", m.InitialC));
        foreach (var (role, name) in outputs)
            if (model.Producer(name) == null)
                throw new CnnFixationsException($"{where}: the manifest's {role} '{name}' is not a tensor of the graph");

        var lstms = model.Nodes.Where(n => n.OpType == "LSTM").ToList();
        float[] w, r;
        double[] b;
        int hidden, embed;
        string xTensor;
        string[] hiddenTensors;
        if (lstms.Count == 1) (w, r, b, hidden, embed, xTensor, hiddenTensors) = FromLstmOp(model, m, lstms[0], where);
        else if (lstms.Count == 0 && WrittenCell(model, m) is { } cell) (w, r, b, hidden, embed, xTensor, hiddenTensors) = cell;
        else throw new CnnFixationsException($"{where} is not an LSTM captioner step: it holds {lstms.Count} LSTM ops and no LSTM cell written out in MatMul/Gemm, Sigmoid, Tanh, Mul and Add; one LSTM is needed");

        // The LSTM input: Gather(embedding, word) [+ image embedding of the feature].
        float[]? embedding = null;
        LinearLayer? image = null;
        var terms = new List<string>();
        CollectAddTerms(model, Trace(model, xTensor), terms);
        foreach (var term in terms)
        {
            var p = model.Producer(term);
            if (p?.OpType == "Gather" && model.IsConstant(p.Inputs[0]) && Trace(model, p.Inputs[1]) == m.WordInput && embedding == null)
            {
                var e = model.TryGetConstant(p.Inputs[0])!;
                if (e.Shape.Length != 2 || e.Shape[1] != embed)
                    throw new CnnFixationsException($"{where}: the word embedding has shape {Shapes.Format(e.Shape)}, expected [V,{embed}]");
                embedding = e.ToFloats();
            }
            else if (image == null && TryLinear(model, term, out var lin, out var src) && Trace(model, src) == m.FeatureInput)
                image = lin;
            else throw new CnnFixationsException($"{where}: the LSTM's input must be Gather(embedding, '{m.WordInput}') plus, for first-step entry, a linear layer of '{m.FeatureInput}'; found {(p == null ? $"tensor '{term}'" : p.Describe())}");
        }
        if (embedding == null) throw new CnnFixationsException($"{where}: no word embedding (Gather of '{m.WordInput}') feeds the LSTM");
        if (image != null && image.Out != embed) throw new CnnFixationsException($"{where}: the image embedding gives {image.Out} values, the LSTM reads {embed}");

        LinearLayer? initH = null, initC = null;
        int featureSize;
        if (m.Entry == ImageEntry.FirstStep)
        {
            if (image == null) throw new CnnFixationsException($"{where}: the manifest says the image enters at the first step, but no linear layer of '{m.FeatureInput}' is added to the LSTM's input");
            featureSize = image.In;
        }
        else
        {
            if (image != null) throw new CnnFixationsException($"{where}: the manifest says the image enters as the initial state, but the feature is also added to the LSTM's input");
            initH = InitLayer(model, m.InitialH!, m.FeatureInput, hidden, where);
            if (m.InitialC != null) initC = InitLayer(model, m.InitialC, m.FeatureInput, hidden, where);
            if (initC != null && initC.In != initH.In) throw new CnnFixationsException($"{where}: the initial-state layers read features of different sizes");
            featureSize = initH.In;
        }

        // The output layer: logits = Linear(h), h from the LSTM's Y or Y_h.
        if (!TryLinear(model, Trace(model, m.LogitsOutput), out var output, out var hs) || !hiddenTensors.Contains(Trace(model, hs)) || output.Tanh)
            throw new CnnFixationsException($"{where}: the logits '{m.LogitsOutput}' must be a linear layer (Gemm, or MatMul + Add) of the LSTM's hidden state");
        if (output.In != hidden) throw new CnnFixationsException($"{where}: the output layer reads {output.In} values, the LSTM has {hidden} hidden units");
        if (embedding.Length / embed < 1) throw new CnnFixationsException($"{where}: the word embedding is empty");
        return new LstmDecoder(embedding, embed, image, initH, initC, w, r, b, hidden, output, featureSize);
    }

    private static (float[] W, float[] R, double[] B, int Hidden, int Embed, string X, string[] HiddenTensors) FromLstmOp(OnnxModel model, CaptionerManifest m, GraphNode lstm, string where)
    {
        var a = lstm.Attributes;
        if (a.GetString("direction", "forward") != "forward" || a.Has("clip") || a.GetInt("input_forget", 0) != 0 || a.GetInt("layout", 0) != 0 || lstm.InputOrNull(7) != null)
            throw new CnnFixationsException($"{where}: {lstm.Describe()} must be a plain forward LSTM (no clip, input_forget, layout or peepholes)");
        if (a.Protos.FirstOrDefault(x => x.Name == "activations") is { } actProto && actProto.Strings.Select(x => x.ToStringUtf8()).ToArray() is { Length: > 0 } acts
            && !acts.SequenceEqual(new[] { "Sigmoid", "Tanh", "Tanh" }))
            throw new CnnFixationsException($"{where}: {lstm.Describe()} uses activations {string.Join(",", acts)}; only Sigmoid, Tanh, Tanh are supported");
        var wc = Const(model, lstm.Inputs[1], where, "LSTM W");
        var rc = Const(model, lstm.Inputs[2], where, "LSTM R");
        if (wc.Shape.Length != 3 || wc.Shape[0] != 1 || wc.Shape[1] % 4 != 0)
            throw new CnnFixationsException($"{where}: LSTM W has shape {Shapes.Format(wc.Shape)}, expected [1,4H,E]");
        int hidden = wc.Shape[1] / 4, embed = wc.Shape[2];
        if (rc.Shape.Length != 3 || rc.Shape[1] != 4 * hidden || rc.Shape[2] != hidden)
            throw new CnnFixationsException($"{where}: LSTM R has shape {Shapes.Format(rc.Shape)}, expected [1,{4 * hidden},{hidden}]");
        float[] bOnnx = lstm.InputOrNull(3) is { } bName ? Const(model, bName, where, "LSTM B").ToFloats() : new float[8 * hidden];
        if (bOnnx.Length != 8 * hidden) throw new CnnFixationsException($"{where}: LSTM B holds {bOnnx.Length} values, expected {8 * hidden}");
        if (lstm.InputOrNull(5) is not { } h0 || Trace(model, h0) != m.HInput || lstm.InputOrNull(6) is not { } c0 || Trace(model, c0) != m.CInput)
            throw new CnnFixationsException($"{where}: the LSTM's initial_h and initial_c must be the inputs '{m.HInput}' and '{m.CInput}'");
        if (lstm.Outputs.Count < 3 || Trace(model, m.HOutput) != lstm.Outputs[1] && Trace(model, m.HOutput) != lstm.Outputs[0] || Trace(model, m.COutput) != lstm.Outputs[2])
            throw new CnnFixationsException($"{where}: '{m.HOutput}' and '{m.COutput}' must be the LSTM's Y_h and Y_c outputs");

        // Gates reordered from ONNX's i, o, f, c to i, f, g, o.
        float[] wSrc = wc.ToFloats(), rSrc = rc.ToFloats();
        var w = new float[4 * hidden * embed];
        var r = new float[4 * hidden * hidden];
        var b = new double[4 * hidden];
        for (int gate = 0; gate < 4; gate++)
        {
            int block = OnnxBlockOfGate[gate];
            Array.Copy(wSrc, block * hidden * embed, w, gate * hidden * embed, hidden * embed);
            Array.Copy(rSrc, block * hidden * hidden, r, gate * hidden * hidden, hidden * hidden);
            for (int k = 0; k < hidden; k++) b[gate * hidden + k] = (double)bOnnx[block * hidden + k] + bOnnx[4 * hidden + block * hidden + k];
        }
        return (w, r, b, hidden, embed, lstm.Inputs[0], new[] { lstm.Outputs[0], lstm.Outputs[1] });
    }

    /// <summary>
    /// The cell written out: h_out = Sigmoid(o) * Tanh(c_out), c_out = Sigmoid(f) * c + Sigmoid(i) * Tanh(g), each gate
    /// pre-activation a linear layer of the input x plus one of h (biases summed), either one output of a Split of
    /// all four or its own sum. Null when the graph is not of that form.
    /// </summary>
    private static (float[] W, float[] R, double[] B, int Hidden, int Embed, string X, string[] HiddenTensors)? WrittenCell(OnnxModel model, CaptionerManifest m)
    {
        string h1 = Trace(model, m.HOutput), c1 = Trace(model, m.COutput), cIn = Trace(model, m.CInput);
        if (model.Producer(h1) is not { OpType: "Mul" } hMul) return null;
        var (oSig, tanhC) = Pair(model, hMul, "Sigmoid", "Tanh");
        if (oSig == null || tanhC == null || Trace(model, tanhC.Inputs[0]) != c1) return null;
        if (model.Producer(c1) is not { OpType: "Add" } cAdd) return null;
        GraphNode? fSig = null, iSig = null, gTanh = null;
        foreach (var term in cAdd.Inputs)
        {
            if (model.Producer(Trace(model, term)) is not { OpType: "Mul" } mul) return null;
            string a = Trace(model, mul.Inputs[0]), bb = Trace(model, mul.Inputs[1]);
            if (a == cIn || bb == cIn)
            {
                fSig = model.Producer(a == cIn ? bb : a);
                if (fSig?.OpType != "Sigmoid") return null;
            }
            else
            {
                var (s, t) = Pair(model, mul, "Sigmoid", "Tanh");
                if (s == null || t == null) return null;
                (iSig, gTanh) = (s, t);
            }
        }
        if (fSig == null || iSig == null || gTanh == null) return null;
        var pre = new[] { iSig, fSig, gTanh, oSig }.Select(n => Trace(model, n.Inputs[0])).ToArray(); // i, f, g, o
        var parts = new (float[] W, float[] R, double[] B, int Rows, string X)?[4];
        var split = model.Producer(pre[0]);
        if (split is { OpType: "Split" } && split.Outputs.Count == 4 && pre.All(t => model.Producer(t) == split))
        {
            if (GateLinears(model, split.Inputs[0], m.HInput) is not { } all || all.Rows % 4 != 0) return null;
            int n4 = all.Rows / 4;
            for (int gate = 0; gate < 4; gate++)
            {
                int block = split.Outputs.ToList().IndexOf(pre[gate]);
                parts[gate] = (Rows(all.W, block * n4, n4), Rows(all.R, block * n4, n4), all.B.Skip(block * n4).Take(n4).ToArray(), n4, all.X);
            }
        }
        else
            for (int gate = 0; gate < 4; gate++) parts[gate] = GateLinears(model, pre[gate], m.HInput);
        if (parts.Any(p => p == null)) return null;
        int hidden = parts[0]!.Value.Rows;
        string x = parts[0]!.Value.X;
        if (parts.Any(p => p!.Value.Rows != hidden || p.Value.X != x)) return null;
        int embed = parts[0]!.Value.W.Length / hidden;
        if (parts.Any(p => p!.Value.R.Length != hidden * hidden || p.Value.W.Length != hidden * embed)) return null;
        var w = parts.SelectMany(p => p!.Value.W).ToArray();
        var r = parts.SelectMany(p => p!.Value.R).ToArray();
        var b = parts.SelectMany(p => p!.Value.B).ToArray();
        return (w, r, b, hidden, embed, x, new[] { h1 });

        static float[] Rows(float[] m, int start, int count) => m.Skip(start * (m.Length / (4 * count))).Take(count * (m.Length / (4 * count))).ToArray();
    }

    /// <summary>A gate pre-activation Linear(x) + Linear(h): the x and h weights, the summed bias and the x tensor.</summary>
    private static (float[] W, float[] R, double[] B, int Rows, string X)? GateLinears(OnnxModel model, string tensor, string hInput)
    {
        var terms = new List<string>();
        CollectAddTerms(model, Trace(model, tensor), terms);
        if (terms.Count != 2) return null;
        LinearLayer? wx = null, wh = null;
        string? x = null;
        foreach (var t in terms)
        {
            if (!TryLinear(model, t, out var lin, out var src)) return null;
            if (Trace(model, src) == hInput) wh = lin;
            else { wx = lin; x = src; }
        }
        if (wx == null || wh == null || x == null || wx.Out != wh.Out) return null;
        var b = new double[wx.Out];
        for (int k = 0; k < b.Length; k++) b[k] = (double)wx.Bias[k] + wh.Bias[k];
        return (wx.Weight, wh.Weight, b, wx.Out, x);
    }

    private static (GraphNode? A, GraphNode? B) Pair(OnnxModel model, GraphNode mul, string aOp, string bOp)
    {
        var p0 = model.Producer(Trace(model, mul.Inputs[0]));
        var p1 = model.Producer(Trace(model, mul.Inputs[1]));
        if (p0?.OpType == aOp && p1?.OpType == bOp) return (p0, p1);
        if (p1?.OpType == aOp && p0?.OpType == bOp) return (p1, p0);
        return (null, null);
    }

    private static LinearLayer InitLayer(OnnxModel model, string tensor, string feature, int hidden, string where)
    {
        string t = Trace(model, tensor);
        bool tanh = false;
        if (model.Producer(t) is { OpType: "Tanh" } th) { tanh = true; t = Trace(model, th.Inputs[0]); }
        if (!TryLinear(model, t, out var lin, out var src) || Trace(model, src) != feature || lin.Tanh)
            throw new CnnFixationsException($"{where}: the initial state '{tensor}' must be a linear layer of '{feature}' (optionally followed by Tanh)");
        if (lin.Out != hidden) throw new CnnFixationsException($"{where}: the initial state '{tensor}' has {lin.Out} values, the LSTM has {hidden} hidden units");
        return lin with { Tanh = tanh };
    }

    private static readonly HashSet<string> Transparent = new(StringComparer.Ordinal) { "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Cast" };

    /// <summary>The tensor behind a chain of reshapes and identities.</summary>
    internal static string Trace(OnnxModel model, string tensor)
    {
        for (int guard = 0; guard < 64; guard++)
        {
            var p = model.Producer(tensor);
            if (p == null || model.IsConstant(tensor)) return tensor;
            // h1[0] in PyTorch exports as Gather(x, 0) on axis 0: a reshape when that axis has length 1.
            bool firstOfBatch = p.OpType == "Gather" && p.Attributes.GetInt("axis", 0) == 0 && !model.IsConstant(p.Inputs[0])
                && model.TryGetConstant(p.Inputs[1]) is { Length: 1 } index && index.GetDouble(0) == 0;
            if (!Transparent.Contains(p.OpType) && !firstOfBatch) return tensor;
            tensor = p.Inputs[0];
        }
        return tensor;
    }

    private static void CollectAddTerms(OnnxModel model, string tensor, List<string> terms)
    {
        var p = model.Producer(tensor);
        if (p?.OpType == "Add" && !model.IsConstant(p.Inputs[0]) && !model.IsConstant(p.Inputs[1]))
        {
            CollectAddTerms(model, Trace(model, p.Inputs[0]), terms);
            CollectAddTerms(model, Trace(model, p.Inputs[1]), terms);
        }
        else terms.Add(tensor);
    }

    /// <summary>A Gemm, a MatMul with a constant weight, or either plus a constant Add; <paramref name="source"/> is its non-constant input.</summary>
    private static bool TryLinear(OnnxModel model, string tensor, out LinearLayer layer, out string source)
    {
        layer = null!;
        source = "";
        var p = model.Producer(tensor);
        if (p == null) return false;
        float[]? extraBias = null;
        if (p.OpType == "Add" && (model.IsConstant(p.Inputs[0]) ^ model.IsConstant(p.Inputs[1])))
        {
            int ci = model.IsConstant(p.Inputs[0]) ? 0 : 1;
            extraBias = model.TryGetConstant(p.Inputs[ci])?.ToFloats();
            p = model.Producer(Trace(model, p.Inputs[1 - ci]));
            if (p == null || extraBias == null) return false;
        }
        float[] wt;
        int outN, inN;
        float[] bias;
        if (p.OpType == "MatMul" && model.IsConstant(p.Inputs[1]) && !model.IsConstant(p.Inputs[0]))
        {
            var bm = model.TryGetConstant(p.Inputs[1]);
            if (bm == null || bm.Shape.Length != 2) return false;
            inN = bm.Shape[0]; outN = bm.Shape[1];
            wt = Transpose(bm.ToFloats(), inN, outN);
            bias = new float[outN];
            source = p.Inputs[0];
        }
        else if (p.OpType == "Gemm" && model.IsConstant(p.Inputs[1]) && !model.IsConstant(p.Inputs[0]) && p.Attributes.GetInt("transA", 0) == 0)
        {
            var bm = model.TryGetConstant(p.Inputs[1]);
            if (bm == null || bm.Shape.Length != 2) return false;
            float alpha = p.Attributes.GetFloat("alpha", 1f), beta = p.Attributes.GetFloat("beta", 1f);
            bool transB = p.Attributes.GetInt("transB", 0) != 0;
            outN = transB ? bm.Shape[0] : bm.Shape[1];
            inN = transB ? bm.Shape[1] : bm.Shape[0];
            wt = transB ? (float[])bm.ToFloats().Clone() : Transpose(bm.ToFloats(), inN, outN);
            if (alpha != 1f) for (int i = 0; i < wt.Length; i++) wt[i] *= alpha;
            bias = new float[outN];
            if (p.InputOrNull(2) is { } cName)
            {
                var cv = model.TryGetConstant(cName)?.ToFloats();
                if (cv == null || (cv.Length != outN && cv.Length != 1)) return false;
                for (int o = 0; o < outN; o++) bias[o] = beta * cv[cv.Length == 1 ? 0 : o];
            }
            source = p.Inputs[0];
        }
        else return false;
        if (extraBias != null)
        {
            if (extraBias.Length != outN && extraBias.Length != 1) return false;
            for (int o = 0; o < outN; o++) bias[o] += extraBias[extraBias.Length == 1 ? 0 : o];
        }
        layer = new LinearLayer(wt, bias, outN, inN, false);
        return true;
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
        return t;
    }

    private static ConstTensor Const(OnnxModel model, string name, string where, string what) =>
        model.TryGetConstant(name) is { IsFloat: true } c ? c : throw new CnnFixationsException($"{where}: {what} '{name}' is not a constant float tensor");
}
