using System.Globalization;
using CnnFixations;
using CnnFixations.Baselines;
using CnnFixations.Evaluation;
using CnnFixations.Imaging;
using CnnFixations.Inference;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

// args: csv model skip limit "variants;..."   variant: s:SIGMA | m:S1:S2:A | gradcam[:S] | cam[:S] | center
var csv = args[0]; var modelPath = args[1]; int skip = int.Parse(args[2]); int limit = int.Parse(args[3]);
var specs = args[4].Split(';');
var dir = Path.GetDirectoryName(Path.GetFullPath(csv))!;
var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToList();
var images = rows.GroupBy(r => r[0]).Skip(skip).Take(limit).Select(g => (Path: Path.Combine(dir, g.Key), Cls: int.Parse(g.First()[4]),
    Boxes: g.Select(r => new[] { double.Parse(r[5], CultureInfo.InvariantCulture), double.Parse(r[6], CultureInfo.InvariantCulture), double.Parse(r[7], CultureInfo.InvariantCulture), double.Parse(r[8], CultureInfo.InvariantCulture) }).ToList())).ToList();
var model = OnnxModel.Load(modelPath);
var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
int offset = model.Metadata.TryGetValue("label_offset", out var lo) ? int.Parse(lo) : 0;
int H = model.InputShape[2], W = model.InputShape[3];
var opts = UnravelOptions.Default;
using var explainer = new Explainer(model, opts);
var plan = UnravelPlan.Create(model, explainer.LogitsTensor, RuleSet.Default, opts);
var logitsName = new[] { explainer.LogitsTensor };
using var logitsSession = new ModelSession(model, logitsName);
float[] Logits(TensorValue t) => logitsSession.Run(t, logitsName)[logitsName[0]].Data;
float[]? blank = null;
var inputWeights = new Dictionary<int, WeightedResult>();
float[]? texture = null;
float[] Texture(ExplanationInput input, int IH, int IW)
{
    using var fwd = explainer.Forward(input.Tensor);
    var ones = new Dictionary<string, TensorValue>();
    foreach (var kv in fwd) { var d = new float[kv.Value.Data.Length]; Array.Fill(d, 1f); ones[kv.Key] = new TensorValue(kv.Value.Shape, d); }
    var o = opts with { FlatShare = 1, CellShare = 0 };
    int n = fwd[explainer.LogitsTensor].Data.Length;
    var start = new float[n]; Array.Fill(start, 1f / n);
    var r = new WeightedWalk(model, plan, RuleSet.Default, o, ones).RunFromWeights(start);
    int C = r.InputShape[1], plane = IH * IW;
    var cov = new double[plane];
    for (int c = 0; c < C; c++) for (int i = 0; i < plane; i++) cov[i] += r.Input[c * plane + i];
    // the mid-frequency texture: coverage blurred at 2 px (the fine blur removes the rest) over its 16-px blur,
    // both separable Gaussians renormalized at the borders
    double[] NBlur(double[] src, double sg)
    {
        int rad = (int)Math.Ceiling(3 * sg); var k = Enumerable.Range(-rad, 2 * rad + 1).Select(d => Math.Exp(-d * d / (2 * sg * sg))).ToArray();
        var t1 = new double[plane]; var t2 = new double[plane];
        for (int y = 0; y < IH; y++) for (int x = 0; x < IW; x++) { double a = 0, wsum = 0; for (int d = -rad; d <= rad; d++) { int xx = x + d; if (xx < 0 || xx >= IW) continue; a += k[d + rad] * src[y * IW + xx]; wsum += k[d + rad]; } t1[y * IW + x] = a / wsum; }
        for (int y = 0; y < IH; y++) for (int x = 0; x < IW; x++) { double a = 0, wsum = 0; for (int d = -rad; d <= rad; d++) { int yy = y + d; if (yy < 0 || yy >= IH) continue; a += k[d + rad] * t1[yy * IW + x]; wsum += k[d + rad]; } t2[y * IW + x] = a / wsum; }
        return t2;
    }
    var fine = NBlur(cov, 2); var local = NBlur(cov, 16);
    var tex = new float[plane];
    for (int i = 0; i < plane; i++) tex[i] = (float)(local[i] > 0 ? fine[i] / local[i] : 1);
    Console.Error.WriteLine($"texture min {tex.Min():F3} max {tex.Max():F3}");
    return tex;
}
double medianShare = 0, q30 = 0; // the map's median and 30%-from-the-top values over its maximum

float[] Blur(List<(int X, int Y)> pts, List<double> ws, int w, int h, double s) => HeatMap.FromWeightedPoints(pts, ws, w, h, s);
float[] Heat(string spec, ExplanationInput input, int target, Dictionary<int, (List<(int X, int Y)>, List<double>)> walks)
{
    var p = spec.Split(':');
    if (p[0] is "gradcam" or "cam")
    {
        // gradcam[:S], cam[:S]: the baseline's map, optionally blurred by S network-input pixels (the sigma-sensitivity rows).
        ISaliencyMethod method = p[0] == "cam" ? new CamMethod() : new GradCamMethod();
        var map = method.Compute(explainer, input, target).Heat;
        if (p.Length < 2) return map;
        var points = new List<(int X, int Y)>(map.Length);
        var weights = new List<double>(map.Length);
        for (int i = 0; i < map.Length; i++)
            if (map[i] > 0) { points.Add((i % input.Width, i / input.Width)); weights.Add(map[i]); }
        return Blur(points, weights, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * Math.Max(input.Width, input.Height) / 224.0);
    }
    if (p[0] == "center")
    {
        var heat = new float[input.Width * input.Height];
        double s = 0.25 * Math.Min(input.Width, input.Height);
        for (int y = 0; y < input.Height; y++) for (int x = 0; x < input.Width; x++)
        { double dx = x - (input.Width - 1) / 2.0, dy = y - (input.Height - 1) / 2.0; heat[y * input.Width + x] = (float)Math.Exp(-(dx * dx + dy * dy) / (2 * s * s)); }
        return heat;
    }
    var grid = p[0][0] == 'b' ? CellGrid.Blocks : p[0][0] == 'l' ? CellGrid.Bilinear : CellGrid.Centres;
    if (grid != CellGrid.Centres) p[0] = p[0][1..];
    int key = target * 4 + (int)grid;
    if (!walks.TryGetValue(key, out var pw))
    {
        using var fwd = explainer.Forward(input.Tensor);
        var o2 = opts with { CellGrid = grid };
        var r = new WeightedWalk(model, plan, RuleSet.Default, o2, fwd).RunFromClass(explainer.LogitsTensor, target);
        pw = FixationMap.WeightedPoints(r, input); walks[key] = pw;
        inputWeights[key] = r;
    }
    var (pts, ws) = pw;
    double scale = Math.Max(input.Width, input.Height) / 224.0; // sigmas given in model pixels (224)
    if (p[0] == "s") return Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
    if (p[0] == "o") return Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture));
    if (p[0] == "v")
    {
        // v:S1:S2:A = m:S1:S2:A of the walk's weights divided by the network's structural texture: the input weights of a
        // walk on all-one activations (flat share 1, no cells) from an even start, over their own 16-px blur.
        int vkey = key + 100000;
        if (!walks.TryGetValue(vkey, out var vw))
        {
            var r0 = inputWeights[key];
            int C0 = r0.InputShape[1], IH0 = r0.InputShape[2], IW0 = r0.InputShape[3], plane0 = IH0 * IW0;
            texture ??= Texture(input, IH0, IW0);
            using var fwd = explainer.Forward(input.Tensor);
            var o2 = opts with { CellGrid = grid };
            var r = new WeightedWalk(model, plan, RuleSet.Default, o2, fwd).RunFromClass(explainer.LogitsTensor, target);
            for (int c = 0; c < C0; c++) for (int i = 0; i < plane0; i++) r.Input[c * plane0 + i] /= texture[i];
            vw = FixationMap.WeightedPoints(r, input); walks[vkey] = vw;
        }
        var (vp, vws) = vw;
        var a = Blur(vp, vws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        var b = Blur(vp, vws, input.Width, input.Height, double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture);
        return HeatMap.Mix(a, b, 1 - al);
    }
    if (p[0] == "h")
    {
        // h:S1:S2:A:C = the m map with its coarse part divided by the share of its Gaussian inside the image (the fade
        // compensated, as --borders even does), capped at C, where that is above the m map: max(F, min(R, C))
        double s1 = double.Parse(p[1], CultureInfo.InvariantCulture) * scale, s2 = double.Parse(p[2], CultureInfo.InvariantCulture) * scale;
        double al = double.Parse(p[3], CultureInfo.InvariantCulture), cap = double.Parse(p[4], CultureInfo.InvariantCulture);
        var a = Blur(pts, ws, input.Width, input.Height, s1);
        var b = Blur(pts, ws, input.Width, input.Height, s2);
        double[] Shares(int n)
        {
            int rad = (int)Math.Ceiling(3 * s2); var k = Enumerable.Range(-rad, 2 * rad + 1).Select(d => Math.Exp(-(double)d * d / (2 * s2 * s2))).ToArray();
            double tot = k.Sum(); var r = new double[n];
            for (int x = 0; x < n; x++) { double v = 0; for (int d = -rad; d <= rad; d++) if (x + d >= 0 && x + d < n) v += k[d + rad]; r[x] = v / tot; }
            return r;
        }
        var sx = Shares(input.Width); var sy = Shares(input.Height);
        int n0 = a.Length; var raw = new double[n0]; double mx = 0;
        for (int i = 0; i < n0; i++) { raw[i] = al * a[i] + (1 - al) * b[i]; mx = Math.Max(mx, raw[i]); }
        var outm = new float[n0];
        for (int i = 0; i < n0; i++)
        {
            int x = i % input.Width, y = i / input.Width;
            double f = mx > 0 ? raw[i] / mx : 0, r = mx > 0 ? (al * a[i] + (1 - al) * b[i] / (sx[x] * sy[y])) / mx : 0;
            outm[i] = (float)Math.Max(f, Math.Min(r, cap));
        }
        return outm;
    }
    if (p[0] == "k")
    {
        // k:S1:S2:A:C:G = max(m:S1:S2:A, C x the cell-averaged extent of a GxG bilinear cell grid, as in c)
        var a = Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        var b = Blur(pts, ws, input.Width, input.Height, double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture), fl = double.Parse(p[4], CultureInfo.InvariantCulture);
        return HeatMap.WithFloor(HeatMap.Mix(a, b, 1 - al), CellExtent(int.Parse(p[5])), fl);
    }
    if (p[0] == "c")
    {
        // c:S1:A:G = A * blur S1 (input px) + (1 - A) * the cell-averaged weights on a GxG bilinear cell grid, upsampled bilinearly
        var fine = Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[2], CultureInfo.InvariantCulture);
        return HeatMap.Mix(fine, CellExtent(int.Parse(p[3])), 1 - al);
    }
    if (p[0] == "r")
    {
        // r:S1:S2:A = m:S1:S2:A with each blur divided by the share of its kernel inside the image (no border fall-off)
        float[] RBlur(double sg) => HeatMap.FromWeightedPoints(pts, ws, input.Width, input.Height, sg, evenAtBorders: true);
        var a = RBlur(double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        var b = RBlur(double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture);
        return HeatMap.Mix(a, b, 1 - al);
    }
    if (p[0] == "f")
    {
        // f:S1:S2:A:C[:S3] = max(m:S1:S2:A, C x the blur S3 (default S2) even at the borders, max 1): the default map with the
        // even extent as a floor below C of its maximum (the argmax, so pointing, is the default's when C < 1)
        var a = Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        var b = Blur(pts, ws, input.Width, input.Height, double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        var e = HeatMap.FromWeightedPoints(pts, ws, input.Width, input.Height, double.Parse(p[p.Length > 5 ? 5 : 2], CultureInfo.InvariantCulture) * scale, evenAtBorders: true);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture), fl = double.Parse(p[4], CultureInfo.InvariantCulture);
        return HeatMap.WithFloor(HeatMap.Mix(a, b, 1 - al), e, fl);
    }
    if (p[0] == "t")
    {
        // t:S1:S2:A:S3:B = (1 - B) * (A blur S1 + (1 - A) blur S2, max 1) + B * blur S3 (max 1), all in input px
        var a = Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * scale);
        var b = Blur(pts, ws, input.Width, input.Height, double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        var c = Blur(pts, ws, input.Width, input.Height, double.Parse(p[4], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture), be = double.Parse(p[5], CultureInfo.InvariantCulture);
        return HeatMap.Mix(HeatMap.Mix(a, b, 1 - al), c, be);
    }
    if (p[0] == "m" || p[0] == "x")
    {
        var a = Blur(pts, ws, input.Width, input.Height, double.Parse(p[1], CultureInfo.InvariantCulture) * (p[0] == "x" ? 1 : scale));
        var b = Blur(pts, ws, input.Width, input.Height, double.Parse(p[2], CultureInfo.InvariantCulture) * scale);
        double al = double.Parse(p[3], CultureInfo.InvariantCulture);
        return HeatMap.Mix(a, b, 1 - al);
    }
    throw new Exception(spec);

    float[] CellExtent(int G)
    {
        var r = inputWeights[key];
        int C = r.InputShape[1], IH = r.InputShape[2], IW = r.InputShape[3];
        (int, int, double) Part(int y, int n) { double t = (y + 0.5) * G / n - 0.5; if (t <= 0) return (0, 0, 0); if (t >= G - 1) return (G - 1, G - 1, 0); int f = (int)Math.Floor(t); return (f, f + 1, t - f); }
        var T = new double[G * G]; var P = new double[G * G];
        for (int y = 0; y < IH; y++) for (int x = 0; x < IW; x++)
        {
            double v = 0; for (int c = 0; c < C; c++) v += Math.Max(0, r.Input[(c * IH + y) * IW + x]);
            var (y0, y1, fy) = Part(y, IH); var (x0, x1, fx) = Part(x, IW);
            foreach (var (yy, wy) in new[] { (y0, 1 - fy), (y1, fy) }) foreach (var (xx, wx) in new[] { (x0, 1 - fx), (x1, fx) })
            { T[yy * G + xx] += wy * wx * v; P[yy * G + xx] += wy * wx; }
        }
        var cm = new float[input.Width * input.Height]; float cmax = 0;
        for (int Y = 0; Y < input.Height; Y++) for (int X = 0; X < input.Width; X++)
        {
            int y = Math.Min(IH - 1, (int)((Y + 0.5) * IH / input.Height)), x = Math.Min(IW - 1, (int)((X + 0.5) * IW / input.Width));
            var (y0, y1, fy) = Part(y, IH); var (x0, x1, fx) = Part(x, IW);
            double v = 0;
            foreach (var (yy, wy) in new[] { (y0, 1 - fy), (y1, fy) }) foreach (var (xx, wx) in new[] { (x0, 1 - fx), (x1, fx) })
                v += wy * wx * T[yy * G + xx] / Math.Max(1e-12, P[yy * G + xx]);
            cm[Y * input.Width + X] = (float)v; cmax = Math.Max(cmax, (float)v);
        }
        if (cmax > 0) for (int i = 0; i < cm.Length; i++) cm[i] /= cmax;
        return cm;
    }
}

(double Del, double Ins, bool[] Same) Curves(ExplanationInput input, float[] heat, int target, float[] logits)
{
    const int Steps = 20;
    var original = input.Tensor; int channels = original.Shape[1], h = original.Shape[2], w = original.Shape[3]; int plane = h * w;
    var sal = new float[plane];
    for (int y = 0; y < h; y++) for (int x = 0; x < w; x++)
    { var (ix, iy) = input.MapToImage(y, x); ix = Math.Clamp(ix, 0, input.Width - 1); iy = Math.Clamp(iy, 0, input.Height - 1); sal[y * w + x] = heat[iy * input.Width + ix]; }
    var order = LocalizationMetrics.SaliencyOrder(sal);
    { float smx = sal.Max(); medianShare = smx > 0 ? sal[order[plane / 2]] / smx : 0; q30 = smx > 0 ? sal[order[(int)(plane * 0.3)]] / smx : 0; }
    blank ??= Logits(new TensorValue(original.Shape, new float[original.Data.Length]));
    double pO = Explainer.Softmax(logits)[target], pB = Explainer.Softmax(blank)[target];
    var del = new double[Steps + 1]; var ins = new double[Steps + 1];
    del[0] = ins[Steps] = pO; del[Steps] = ins[0] = pB;
    var same = new bool[3]; int[] fs = { 2, 6, 10 };
    var deleted = (float[])original.Data.Clone(); var inserted = new float[original.Data.Length];
    var dT = new TensorValue(original.Shape, deleted); var iT = new TensorValue(original.Shape, inserted);
    int done = 0;
    for (int k = 1; k < Steps; k++)
    {
        int count = LocalizationMetrics.StepCount(k, Steps, plane);
        for (; done < count; done++) { int q = order[done]; for (int c = 0; c < channels; c++) { deleted[c * plane + q] = 0; inserted[c * plane + q] = original.Data[c * plane + q]; } }
        del[k] = Explainer.Softmax(Logits(dT))[target];
        var il = Logits(iT); ins[k] = Explainer.Softmax(il)[target];
        int f = Array.IndexOf(fs, k); if (f >= 0) same[f] = Explainer.TopClasses(il, 1)[0] == target;
    }
    return (LocalizationMetrics.TrapezoidAuc(del), LocalizationMetrics.TrapezoidAuc(ins), same);
}
static double Iou(int[] a, double[] b)
{
    double ix = Math.Min(a[2], b[2]) - Math.Max(a[0], b[0]) + 1, iy = Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]) + 1;
    if (ix <= 0 || iy <= 0) return 0;
    double inter = ix * iy, ua = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1), ub = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
    return inter / (ua + ub - inter);
}
double[] thresholds = { 0.3, 0.4, 0.5 };
var st = specs.ToDictionary(v => v, v => new double[24]);
int n = 0, small = 0;
foreach (var im in images)
{
    ExplanationInput input;
    try { input = ExplanationInput.FromImage(im.Path, pre, H, W); } catch { continue; }
    var logits = Logits(input.Tensor);
    int top = Explainer.TopClasses(logits, 1)[0]; int gt = im.Cls + offset;
    n++;
    double area = (double)input.Width * input.Height;
    bool isSmall = im.Boxes.All(b => (b[2] - b[0] + 1) * (b[3] - b[1] + 1) < 0.5 * area); if (isSmall) small++;
    var walks = new Dictionary<int, (List<(int X, int Y)>, List<double>)>();
    foreach (var v in specs)
    {
        var s = st[v];
        var ht = Heat(v, input, top, walks);
        var hg = gt == top ? ht : Heat(v, input, gt, walks);
        var (x, y) = LocalizationMetrics.ArgMax(ht, input.Width);
        bool strict = im.Boxes.Any(b => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
        bool tol = im.Boxes.Any(b => { double dx = Math.Max(0, Math.Max(b[0] - x, x - b[2])), dy = Math.Max(0, Math.Max(b[1] - y, y - b[3])); return dx * dx + dy * dy <= 225; });
        s[0] += strict ? 1 : 0; s[1] += tol ? 1 : 0; if (isSmall) { s[2] += strict ? 1 : 0; s[3] += tol ? 1 : 0; }
        for (int t = 0; t < thresholds.Length; t++)
        {
            var bt = BoxFinder.FromThreshold(ht, input.Width, input.Height, thresholds[t]);
            var bg = BoxFinder.FromThreshold(hg, input.Width, input.Height, thresholds[t]);
            if (top == gt && bt != null && im.Boxes.Any(b => Iou(bt, b) >= 0.5)) s[4 + t]++;
            if (bg != null && im.Boxes.Any(b => Iou(bg, b) >= 0.5)) s[7 + t]++;
        }
        var (d, ins, same) = Curves(input, ht, top, logits);
        s[15] += medianShare; s[16] += q30; if (medianShare < 0.05) s[17]++;
        s[10] += d; s[11] += ins; for (int i = 0; i < 3; i++) s[12 + i] += same[i] ? 1 : 0;
    }
    if (n % 10 == 0) Console.Error.WriteLine($"{n} images");
}
Console.WriteLine($"images {n}, small {small}");
Console.WriteLine($"{"variant",-16} strict  15px  sm-str sm-15  | loc-err@.3/.4/.5     | GTknown@.3/.4/.5     | del    ins    | keep10/30/50");
foreach (var v in specs)
{
    var s = st[v]; double P(double a, int d) => 100 * a / Math.Max(1, d);
    Console.WriteLine($"{v,-16} {P(s[0], n),5:F1} {P(s[1], n),5:F1} {P(s[2], small),5:F1} {P(s[3], small),5:F1}  | {100 - P(s[4], n),5:F1} {100 - P(s[5], n),5:F1} {100 - P(s[6], n),5:F1} | {P(s[7], n),5:F1} {P(s[8], n),5:F1} {P(s[9], n),5:F1} | {s[10] / n:F3} {s[11] / n:F3} | {P(s[12], n),4:F0} {P(s[13], n),4:F0} {P(s[14], n),4:F0} | median {s[15] / n:F3} q30 {s[16] / n:F3} median<0.05: {s[17]}");
}
