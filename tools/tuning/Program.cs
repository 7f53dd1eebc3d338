using System.Globalization;
using CnnFixations;
using CnnFixations.Baselines;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Onnx;
using CnnFixations.Unravel;

// args: split-csv modelPath limit variants(sep ;) e.g. "w:0.5:mean:20;w:0:mean:20;gradcam:20;paper"
var csv = args[0];
var modelPath = args[1];
int limit = int.Parse(args[2]);
var variantSpecs = args[3].Split(';');
int gridCount = args.Length > 4 ? int.Parse(args[4]) : 0;
var dir = Path.GetDirectoryName(Path.GetFullPath(csv))!;
var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToList();
var images = rows.GroupBy(r => r[0]).Take(limit).Select(g => (Path: Path.Combine(dir, g.Key), Cls: int.Parse(g.First()[4]),
    Boxes: g.Select(r => new[] { double.Parse(r[5], CultureInfo.InvariantCulture), double.Parse(r[6], CultureInfo.InvariantCulture), double.Parse(r[7], CultureInfo.InvariantCulture), double.Parse(r[8], CultureInfo.InvariantCulture) }).ToList())).ToList();
var model = OnnxModel.Load(modelPath);
var pre = Preprocessing.FromMetadata(model.Metadata) ?? Preprocessing.Torchvision;
int offset = model.Metadata.TryGetValue("label_offset", out var lo) ? int.Parse(lo) : 0;
int H = model.InputShape[2], W = model.InputShape[3];
using var explainer = new Explainer(model, UnravelOptions.Default);
var plan = UnravelPlan.Create(model, explainer.LogitsTensor, RuleSet.Default, UnravelOptions.Default);
using var paperExplainer = new Explainer(model, UnravelOptions.Paper);

float[] Map(string spec, ExplanationInput input, int target, out double ms)
{
    var p = spec.Split(':');
    var sw = System.Diagnostics.Stopwatch.StartNew();
    float[] heat;
    if (p[0] == "w")
    {
        double flat = double.Parse(p[1], CultureInfo.InvariantCulture);
        var contrast = p[2].StartsWith("soft") ? Contrast.Softmax : p[2].StartsWith("mean") ? Contrast.Mean : Contrast.None;
        double cellsOn = p.Length > 4 ? double.Parse(p[4], CultureInfo.InvariantCulture) : p[2].EndsWith("cell") ? 1 : 0;
        double sigma = double.Parse(p[3], CultureInfo.InvariantCulture);
        using var fwd = explainer.Forward(input.Tensor);
        var opts = UnravelOptions.Default with { FlatShare = flat, Contrast = contrast, CellShare = cellsOn, SoftmaxShare = p.Length > 5 ? double.Parse(p[5], CultureInfo.InvariantCulture) : 1 };
        var r = new WeightedWalk(model, plan, RuleSet.Default, opts, fwd).RunFromClass(explainer.LogitsTensor, target);
        var (pts, ws) = FixationMap.WeightedPoints(r, input);
        heat = HeatMap.FromWeightedPoints(pts, ws, input.Width, input.Height, sigma);
    }
    else if (p[0] == "gradcam") heat = new GradCamMethod().Compute(explainer, input, target).Heat;
    else if (p[0] == "center")
    {
        heat = new float[input.Width * input.Height];
        double s = double.Parse(p[1], CultureInfo.InvariantCulture) * Math.Max(input.Width, input.Height);
        for (int y = 0; y < input.Height; y++) for (int x = 0; x < input.Width; x++)
        {
            double dx = x - (input.Width - 1) / 2.0, dy = y - (input.Height - 1) / 2.0;
            heat[y * input.Width + x] = (float)Math.Exp(-(dx * dx + dy * dy) / (2 * s * s));
        }
    }
    else
    {
        using var fwd = paperExplainer.Forward(input.Tensor);
        var e = paperExplainer.Unravel(fwd, target);
        heat = FixationMap.Build(e, input, MapOptions.Default).Heat;
    }
    ms = sw.Elapsed.TotalMilliseconds;
    return heat;
}

static (int x, int y) ArgMax(float[] heat, int w)
{
    int best = 0; for (int i = 1; i < heat.Length; i++) if (heat[i] > heat[best]) best = i;
    return (best % w, best / w);
}
static double Iou(int[] a, double[] b)
{
    double ix = Math.Min(a[2], b[2]) - Math.Max(a[0], b[0]) + 1, iy = Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]) + 1;
    if (ix <= 0 || iy <= 0) return 0;
    double inter = ix * iy, ua = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1), ub = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
    return inter / (ua + ub - inter);
}

var stats = variantSpecs.ToDictionary(v => v, v => new double[8]);
int n = 0, small = 0;
var correct = new List<(RgbImage Img, int Cls)>();
foreach (var im in images)
{
    var input = ExplanationInput.FromImage(im.Path, pre, H, W);
    using var f0 = explainer.Forward(input.Tensor);
    var logits = f0[explainer.LogitsTensor].Data;
    int top = Explainer.TopClasses(logits, 2)[0];
    int target = im.Cls + offset;
    if (top == target) correct.Add((input.Image!, target));
    n++;
    double area = (double)input.Width * input.Height;
    bool isSmall = im.Boxes.All(b => (b[2] - b[0] + 1) * (b[3] - b[1] + 1) < 0.5 * area);
    if (isSmall) small++;
    foreach (var v in variantSpecs)
    {
        var heat = Map(v, input, target, out double ms);
        var (x, y) = ArgMax(heat, input.Width);
        bool strict = im.Boxes.Any(b => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
        bool tol = im.Boxes.Any(b => Math.Max(0, Math.Max(b[0] - x, x - b[2])) * Math.Max(0, Math.Max(b[0] - x, x - b[2])) + Math.Max(0, Math.Max(b[1] - y, y - b[3])) * Math.Max(0, Math.Max(b[1] - y, y - b[3])) <= 225);
        var box = BoxFinder.FromThreshold(heat, input.Width, input.Height, 0.5);
        bool loc = box != null && im.Boxes.Any(b => Iou(box, b) >= 0.5);
        var s = stats[v];
        s[0] += strict ? 1 : 0; s[1] += tol ? 1 : 0; s[2] += loc ? 1 : 0; s[3] += ms;
        if (isSmall) s[4] += strict ? 1 : 0;
        if (loc && top == target) s[5]++;
    }
}
Console.WriteLine($"images {n}, small {small}, correct {correct.Count}");
foreach (var v in variantSpecs)
{
    var s = stats[v];
    Console.WriteLine($"{v,-22} strict {100 * s[0] / n:F1}  15px {100 * s[1] / n:F1}  small-strict {100 * s[4] / Math.Max(1, small):F1}  GT-known-loc {100 * s[2] / n:F1}  top1-loc-err {100 - 100 * s[5] / n:F1}  {s[3] / n:F0} ms");
}

// grid pointing 2x2: collages of 4 correct images of distinct classes, in order
if (gridCount > 0)
{
    var gs = variantSpecs.ToDictionary(v => v, v => new double[3]);
    int targets = 0;
    int T = 227;
    var pool = correct.ToList();
    int used = 0;
    for (int g = 0; g < gridCount; g++)
    {
        var pick = new List<(RgbImage Img, int Cls)>();
        while (pick.Count < 4 && used < pool.Count)
        {
            var c = pool[used++];
            if (pick.All(q => q.Cls != c.Cls)) pick.Add(c);
        }
        if (pick.Count < 4) break;
        var px = new byte[2 * T * 2 * T * 3];
        for (int t = 0; t < 4; t++)
        {
            var tile = Resampler.Resize(pick[t].Img, T, T);
            int ox = (t % 2) * T, oy = (t / 2) * T;
            for (int yy = 0; yy < T; yy++) for (int xx = 0; xx < T; xx++)
            {
                var (r, gg, b) = tile[xx, yy];
                int o = ((oy + yy) * 2 * T + ox + xx) * 3;
                px[o] = r; px[o + 1] = gg; px[o + 2] = b;
            }
        }
        var collage = new RgbImage(2 * T, 2 * T, px);
        var input = ExplanationInput.FromImage(null, collage, pre, H, W);
        for (int t = 0; t < 4; t++)
        {
            targets++;
            int ox = (t % 2) * T, oy = (t / 2) * T;
            foreach (var v in variantSpecs)
            {
                var heat = Map(v, input, pick[t].Cls, out _);
                double inside = 0, total = 0;
                for (int yy = 0; yy < 2 * T; yy++) for (int xx = 0; xx < 2 * T; xx++)
                {
                    double h = heat[yy * 2 * T + xx]; total += h;
                    if (xx >= ox && xx < ox + T && yy >= oy && yy < oy + T) inside += h;
                }
                var (mx, my) = ArgMax(heat, 2 * T);
                gs[v][0] += total > 0 ? inside / total : 0;
                gs[v][1] += mx >= ox && mx < ox + T && my >= oy && my < oy + T ? 1 : 0;
                gs[v][2] += total > 0 ? 0 : 1;
            }
        }
    }
    Console.WriteLine($"grid 2x2: {targets} targets");
    foreach (var v in variantSpecs) Console.WriteLine($"{v,-22} mass {gs[v][0] / targets:F3}  max-in-tile {100 * gs[v][1] / targets:F1}%  empty {gs[v][2]}");
}
