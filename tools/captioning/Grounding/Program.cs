// Grounding of the captioner's words on held-out collages (docs/captioning.md, "Grounding"): for every
// object word that names a photo of its collage, the share of its fixation points and of its heat map's
// mass in that photo's tile, for the fixations under each rule set and for the per-word Grad-CAM.
//
//   dotnet run -c Release --project tools/captioning/Grounding -- PREFIX [--model DIR] [--limit N]
//
// PREFIX.list and PREFIX.nouns come from tools/captioning/make_collages.py (--rearranged: pairs of
// collages, the second with every tile moved one place on).
using System.Globalization;
using CnnFixations;
using CnnFixations.Captioning;
using CnnFixations.Imaging;
using CnnFixations.Maps;
using CnnFixations.Unravel;

const double Threshold = 0.6;
string prefix = args[0];
string model = Arg("--model") ?? "models/demo-captioner";
int limit = int.Parse(Arg("--limit") ?? "1000000", CultureInfo.InvariantCulture);
var lines = File.ReadAllLines(prefix + ".list").Where(l => l.Length > 0).Take(limit).ToList();
var nouns = File.ReadAllLines(prefix + ".nouns").Where(l => l.Length > 0).Take(limit).Select(l => l.Split('\t')).ToList();
var stop = new HashSet<string> { "a", "an", "the", "and", "with", "of", "on", "in", "next", "to" };
var manifest = CaptionerManifest.Load(model);

var all = new (string Name, UnravelOptions Rules, CaptionWalkOptions Walk, bool GradCam)[]
{
    ("paper rules (default)", UnravelOptions.Paper, CaptionWalkOptions.Default, true),
    ("--rules weighted", UnravelOptions.Default, CaptionWalkOptions.Default, false),
    ("--rules weighted --contrast none", UnravelOptions.Default, new CaptionWalkOptions { Contrast = false }, false),
    ("--rules weighted --cell-path-only", UnravelOptions.Default, new CaptionWalkOptions { CellPathOnly = true }, false),
    ("--contribution-share 0.1", UnravelOptions.Paper, new CaptionWalkOptions { ContributionShare = 0.1 }, false),
};
// --variants 0,3: the rows to run (default: all)
var variants = Arg("--variants") is { } pick ? pick.Split(',').Select(v => all[int.Parse(v, CultureInfo.InvariantCulture)]).ToArray() : all;
var cache = new Dictionary<string, RgbImage>(StringComparer.Ordinal);
RgbImage Load(string p) { lock (cache) { if (!cache.TryGetValue(p, out var img)) cache[p] = img = ImageLoader.Load(p); return img; } }

Console.WriteLine($"{lines.Count} collages from {prefix}.list, captioner {model}");
if (Arg("--debug") is { } dbg)
{
    // Per word of one collage: the 7x7 map that the feature weights give at the pooling (sum_c F_c A_c / |A_c|_1)
    // and the gradient's (sum_c g_c A_c), as shares per tile.
    int i = int.Parse(dbg, CultureInfo.InvariantCulture);
    using var captioner = new Captioner(manifest, UnravelOptions.Default);
    var paths = lines[i].Split('\t');
    var collage = Collage.Compose(paths.Select(p => p == "-" ? null : Load(p)).ToArray());
    var input = ExplanationInput.FromImage(null, collage, ModelConventions.ResolvePreprocessing(captioner.Encoder), 224, 224);
    var (feature, fwd) = captioner.Encode(input.Tensor);
    using var _ = fwd;
    var (steps, wordSteps) = captioner.Decode(feature, 20);
    var a = fwd[captioner.SpatialFeature!];
    int ch = a.Shape[1], plane = a.Shape[2] * a.Shape[3], side = a.Shape[3];
    string Tiles(Func<int, double> cell)
    {
        var t = new double[4];
        for (int q = 0; q < plane; q++) { int y = q / side, x = q % side; double v = Math.Max(0, cell(q)); if (side % 2 == 1 && (x == side / 2 || y == side / 2)) continue; t[(y > side / 2 ? 2 : 0) + (x > side / 2 ? 1 : 0)] += v; }
        double sum = t.Sum();
        return string.Join(" ", t.Select(v => (v / Math.Max(sum, 1e-12)).ToString("F2", CultureInfo.InvariantCulture)));
    }
    Console.WriteLine($"tiles: {lines[i].Replace('\t', ' ')}; nouns {string.Join(" ", nouns[i])}");
    foreach (int t in wordSteps)
    {
        int w = Array.IndexOf(steps[t].Logits, steps[t].Logits.Max());
        foreach (var (contrast, cellOnly) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var dw = CaptionWalk.RunWeighted(captioner.Decoder, steps, t, w, feature, new CaptionWalkOptions { Contrast = contrast, CellPathOnly = cellOnly });
            var norm = new double[ch];
            for (int c = 0; c < ch; c++) { double s1 = 0; for (int q = 0; q < plane; q++) s1 += Math.Max(0, a.Data[c * plane + q]); norm[c] = s1; }
            Console.WriteLine($"{captioner.Vocabulary[w],-10} contrast={contrast,-5} cell-only={cellOnly,-5} image {dw.ImageShare:F3}  F-map tiles {Tiles(q => Enumerable.Range(0, ch).Sum(c => norm[c] > 0 ? dw.Feature[c] * a.Data[c * plane + q] / norm[c] : 0))}");
        }
        var g = CaptionGradient.FeatureGradient(captioner.Decoder, steps, t, w, feature);
        Console.WriteLine($"{"",-10} gradient                 g-map tiles {Tiles(q => Enumerable.Range(0, ch).Sum(c => g[c] * a.Data[c * plane + q]))}");
    }
    return;
}
foreach (var (name, rules, walk, gradCam) in variants)
{
    using var captioner = new Captioner(manifest, rules);
    var pre = ModelConventions.ResolvePreprocessing(captioner.Encoder);
    var (h, w) = ModelConventions.ResolveInputSize(captioner.Encoder);
    var maps = rules.Rules == RuleFamily.Weighted ? MapOptions.Weighted : MapOptions.Default;
    if (Arg("--coarse-share") is { } coarse) maps = maps with { CoarseShare = double.Parse(coarse, CultureInfo.InvariantCulture) };
    var rows = new List<Row>[lines.Count];
    int exact = 0;
    Parallel.For(0, lines.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
    {
        var paths = lines[i].Split('\t');
        var collage = Collage.Compose(paths.Select(p => p == "-" ? null : Load(p)).ToArray());
        var input = ExplanationInput.FromImage(null, collage, pre, h, w);
        var result = captioner.Caption(input, 20, walk, gradCam);
        var photos = nouns[i].Select((n, t) => (n, t)).Where(x => x.n != "-").ToList();
        var list = new List<Row>();
        foreach (var word in result.Words)
        {
            if (stop.Contains(word.Word) || word.Word.StartsWith('<')) continue;
            int tile = photos.FindIndex(x => x.n == word.Word);
            if (tile < 0) { list.Add(new Row(-1, paths[0], 0, 0, 0, 0, false, false)); continue; }
            tile = photos[tile].t;
            var map = word.Explanation != null ? FixationMap.Build(word.Explanation, input, maps) : FixationMap.Build(word.InputFixations, input, maps);
            var pts = map.KeptPoints.Count > 0 ? map.KeptPoints : map.Points;
            double pointShare = pts.Count == 0 ? 0 : pts.Count(p => Collage.TileOf(p.X, p.Y, collage.Width) == tile) / (double)pts.Count;
            var (mass, peak) = TileMass(map.Heat, collage.Width, tile);
            var (camMass, camPeak) = word.GradCam is { } cam ? TileMass(cam.Heat, collage.Width, tile) : (double.NaN, false);
            list.Add(new Row(tile, paths[tile], pointShare, mass, camMass, photos.Count, peak, camPeak));
        }
        rows[i] = list;
        var expected = string.Join(" and ", photos.Select(x => x.n).OrderBy(n => Array.IndexOf(NounOrder(captioner), n)).Select(n => ("aeiou".Contains(n[0]) ? "an " : "a ") + n));
        if (result.Caption == expected) Interlocked.Increment(ref exact);
    });
    var words = rows.SelectMany(r => r).ToList();
    var named = words.Where(r => r.Tile >= 0).ToList();
    Console.WriteLine($"\n## {name}");
    Console.WriteLine($"exact captions {exact}/{lines.Count}; object words {words.Count}, naming a photo {named.Count}, wrong nouns {words.Count - named.Count}");
    Console.WriteLine("| photos in the collage | words | grounded: points >= 60% | grounded: heat mass >= 60% | map peak in tile | Grad-CAM mass >= 60% | Grad-CAM peak in tile |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    foreach (var group in named.GroupBy(r => r.Photos).OrderBy(g => g.Key).Select(g => (g.Key.ToString(CultureInfo.InvariantCulture), g.ToList())).Append(("all", named)))
    {
        var g = group.Item2;
        string Pct(Func<Row, bool> f) => $"{g.Count(f)}/{g.Count} = {100.0 * g.Count(f) / Math.Max(1, g.Count):F1}%";
        Console.WriteLine($"| {group.Item1} | {g.Count} | {Pct(r => r.PointShare >= Threshold)} | {Pct(r => r.Mass >= Threshold)} | {Pct(r => r.Peak)} | " +
                          (gradCam ? $"{Pct(r => r.CamMass >= Threshold)} | {Pct(r => r.CamPeak)} |" : "- | - |"));
    }
    // Following: a pair (2k, 2k+1) holds the same photos, each moved one tile on.
    int pairs = 0, follow = 0, followMass = 0, followCam = 0;
    for (int i = 0; i + 1 < lines.Count; i += 2)
        foreach (var a in rows[i].Where(r => r.Tile >= 0))
            if (rows[i + 1].FirstOrDefault(b => b.Tile >= 0 && b.Photo == a.Photo) is { } b && b.Tile == (a.Tile + 1) % 4)
            {
                pairs++;
                follow += a.PointShare >= Threshold && b.PointShare >= Threshold ? 1 : 0;
                followMass += a.Mass >= Threshold && b.Mass >= Threshold ? 1 : 0;
                followCam += a.CamMass >= Threshold && b.CamMass >= Threshold ? 1 : 0;
            }
    Console.WriteLine($"follow their photo when the tiles move: points {follow}/{pairs}, heat mass {followMass}/{pairs}" + (gradCam ? $", Grad-CAM mass {followCam}/{pairs}" : ""));
}

static (double Mass, bool Peak) TileMass(float[] heat, int size, int tile)
{
    double inside = 0, total = 0;
    float max = float.MinValue;
    int maxTile = -1;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            float v = heat[y * size + x];
            total += v;
            if (Collage.TileOf(x, y, size) == tile) inside += v;
            if (v > max) { max = v; maxTile = Collage.TileOf(x, y, size); }
        }
    return (total > 0 ? inside / total : 0, maxTile == tile);
}

static string[] NounOrder(Captioner c) => c.Vocabulary; // the demo caption lists its nouns in vocabulary (alphabetical) order

string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

record Row(int Tile, string Photo, double PointShare, double Mass, double CamMass, int Photos, bool Peak, bool CamPeak);
