using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CnnFixations.Evaluation;

/// <summary>The per-image sums behind one row of a table (all images, or the small-object subset).</summary>
public sealed class MetricSums
{
    public int Images { get; private set; }
    public int TopOneLocalized { get; private set; }
    public int GtKnownLocalized { get; private set; }
    public int PointingHits { get; private set; }
    public int StrictPointingHits { get; private set; }
    public double DeletionSum { get; private set; }
    public double InsertionSum { get; private set; }
    public double CorrelationSum { get; private set; }
    public int CorrelationCount { get; private set; }
    public int[] FixationOnlySame { get; } = new int[Evaluator.FixationOnlyFractions.Count];

    public void Add(ImageResult r)
    {
        Images++;
        if (r.TopOneLocalized) TopOneLocalized++;
        if (r.GtKnownLocalized) GtKnownLocalized++;
        if (r.PointingHit) PointingHits++;
        if (r.PointingStrictHit) StrictPointingHits++;
        DeletionSum += r.DeletionAuc;
        InsertionSum += r.InsertionAuc;
        if (!double.IsNaN(r.Top2Correlation)) { CorrelationSum += r.Top2Correlation; CorrelationCount++; }
        for (int i = 0; i < FixationOnlySame.Length; i++) if (r.FixationOnlySame[i]) FixationOnlySame[i]++;
    }

    private double Percent(int count) => Images == 0 ? double.NaN : 100.0 * count / Images;
    public double TopOneLocAccuracy => Percent(TopOneLocalized);
    public double TopOneLocError => Images == 0 ? double.NaN : 100 - TopOneLocAccuracy;
    public double GtKnownLocAccuracy => Percent(GtKnownLocalized);
    public double PointingGame => Percent(PointingHits);
    public double StrictPointingGame => Percent(StrictPointingHits);
    public double DeletionAuc => Images == 0 ? double.NaN : DeletionSum / Images;
    public double InsertionAuc => Images == 0 ? double.NaN : InsertionSum / Images;
    public double Top2Correlation => CorrelationCount == 0 ? double.NaN : CorrelationSum / CorrelationCount;
    public double FixationOnlyAccuracy(int i) => Percent(FixationOnlySame[i]);
}

/// <summary>Grid pointing game sums of one method and one grid size.</summary>
public sealed class GridSums
{
    public int Targets { get; private set; }
    public double MassSum { get; private set; }
    public int MaxHits { get; private set; }
    public void Add(GridResult r) { Targets++; MassSum += r.MassInTile; if (r.MaxInTile) MaxHits++; }
    public double MassInTile => Targets == 0 ? double.NaN : MassSum / Targets;
    public double MaxInTile => Targets == 0 ? double.NaN : 100.0 * MaxHits / Targets;
}

/// <summary>Randomization sums of one method and one depth.</summary>
public sealed class RandomizationSums
{
    public int Images { get; private set; }
    public int Failed { get; private set; }
    public double SpearmanSum { get; private set; }
    public void Add(RandomizationResult r)
    {
        if (double.IsNaN(r.Spearman)) Failed++;
        else { Images++; SpearmanSum += r.Spearman; }
    }
    public double Spearman => Images == 0 ? double.NaN : SpearmanSum / Images;
}

/// <summary>The totals of one row of the tables (a method, or a method's own box).</summary>
public sealed class MethodTotals
{
    public MethodTotals(string name, string? notApplicable = null)
    {
        Name = name;
        NotApplicable = notApplicable;
    }

    public string Name { get; }
    /// <summary>Why the method does not apply to the model (then it has no images), or null.</summary>
    public string? NotApplicable { get; }
    /// <summary>Every evaluated image.</summary>
    public MetricSums All { get; } = new();
    /// <summary>The small-object images (<see cref="MapStatistics.IsSmallObject"/>).</summary>
    public MetricSums Small { get; } = new();
    /// <summary>Grid pointing game by grid size k (k x k collages).</summary>
    public SortedDictionary<int, GridSums> Grid { get; } = new();
    /// <summary>Randomization check by depth (number of randomized weighted layers, from the top).</summary>
    public SortedDictionary<int, RandomizationSums> Randomization { get; } = new();

    public int Images => All.Images;

    public void Add(ImageResult r)
    {
        All.Add(r);
        if (r.SmallObject) Small.Add(r);
    }
}

/// <summary>Collects the per-image rows and writes evaluation.json, evaluation.csv and the Markdown tables.</summary>
public sealed class EvaluationReport
{
    private static readonly string[] CsvColumns = new[]
    {
        "image", "method", "gt_class", "predicted_class", "label_right", "top1_iou", "top1_localized", "gt_known_iou", "gt_known_localized",
        "point_x", "point_y", "pointing_hit", "deletion_auc", "insertion_auc",
    }.Concat(Evaluator.FixationOnlyFractions.Select(f => "fixation_only_" + Key(f))).Concat(new[]
    {
        "pointing_strict", "small_object", "top2_class", "top2_correlation",
        "grid_collage", "grid_tile", "grid_mass_in_tile", "grid_max_in_tile",
        "randomized_layers", "randomized_down_to", "spearman", "error",
    }).ToArray();

    private readonly List<MethodTotals> _totals = new();
    private readonly List<ImageResult> _rows = new();
    private readonly List<Dictionary<string, string>> _csv = new();
    private readonly HashSet<string> _images = new(StringComparer.Ordinal);
    private readonly HashSet<string> _smallImages = new(StringComparer.Ordinal);
    private readonly List<(string Image, string Error)> _errors = new();
    private readonly SortedDictionary<int, int> _collages = new();
    private readonly SortedDictionary<int, string> _depthLayers = new();
    private readonly HashSet<string> _randomizedImages = new(StringComparer.Ordinal);

    public EvaluationReport(string model, double threshold, int labelOffset, IEnumerable<(string Name, string? NotApplicable)> methods)
    {
        Model = model;
        Threshold = threshold;
        LabelOffset = labelOffset;
        foreach (var (name, reason) in methods) _totals.Add(new MethodTotals(name, reason));
    }

    public string Model { get; }
    public double Threshold { get; }
    public int LabelOffset { get; }
    public int Images => _images.Count;
    public int SmallObjectImages => _smallImages.Count;
    public IReadOnlyList<MethodTotals> Totals => _totals;
    public IReadOnlyList<ImageResult> Rows => _rows;
    public IReadOnlyList<(string Image, string Error)> Errors => _errors;

    /// <summary>Grid settings, written to the JSON: the seed and the number of collages requested per size.</summary>
    public (long Seed, int Requested)? GridSettings { get; set; }
    /// <summary>Randomization settings, written to the JSON: the seed and the number of weighted layers found.</summary>
    public (long Seed, int Layers)? RandomizationSettings { get; set; }

    /// <summary>Adds one image's rows; a row of a method's own box goes right after the method's row in the table.</summary>
    public void Add(IEnumerable<ImageResult> rows)
    {
        foreach (var r in rows)
        {
            _images.Add(r.Image);
            if (r.SmallObject) _smallImages.Add(r.Image);
            _rows.Add(r);
            Find(r.Method).Add(r);
            var c = Cells(r.Image, r.Method);
            c["gt_class"] = I(r.GtClass); c["predicted_class"] = I(r.PredictedClass); c["label_right"] = B(r.LabelRight);
            c["top1_iou"] = D(r.TopOneIou); c["top1_localized"] = B(r.TopOneLocalized);
            c["gt_known_iou"] = D(r.GtKnownIou); c["gt_known_localized"] = B(r.GtKnownLocalized);
            c["point_x"] = I(r.PointX); c["point_y"] = I(r.PointY); c["pointing_hit"] = B(r.PointingHit);
            c["deletion_auc"] = D(r.DeletionAuc); c["insertion_auc"] = D(r.InsertionAuc);
            for (int i = 0; i < r.FixationOnlySame.Count; i++) c["fixation_only_" + Key(Evaluator.FixationOnlyFractions[i])] = B(r.FixationOnlySame[i]);
            c["pointing_strict"] = B(r.PointingStrictHit); c["small_object"] = B(r.SmallObject);
            c["top2_class"] = I(r.Top2Class); c["top2_correlation"] = D(r.Top2Correlation);
        }
    }

    /// <summary>An image that could not be evaluated (unreadable, wrong size, ...): one error row, no totals.</summary>
    public void AddError(string image, string error)
    {
        _errors.Add((image, error));
        Cells(image, "")["error"] = error;
    }

    /// <summary>Records that <paramref name="count"/> collages of size k were made.</summary>
    public void AddCollages(int k, int count) => _collages[k] = _collages.GetValueOrDefault(k) + count;

    public void AddGrid(IEnumerable<GridResult> results)
    {
        foreach (var r in results)
        {
            var t = Find(r.Method);
            if (!t.Grid.TryGetValue(r.Size, out var sums)) t.Grid[r.Size] = sums = new GridSums();
            sums.Add(r);
            var c = Cells(r.Image, r.Method);
            c["gt_class"] = I(r.ClassIndex); c["grid_collage"] = r.Collage; c["grid_tile"] = I(r.Tile);
            c["grid_mass_in_tile"] = D(r.MassInTile); c["grid_max_in_tile"] = B(r.MaxInTile);
        }
    }

    public void AddRandomization(IEnumerable<RandomizationResult> results)
    {
        foreach (var r in results)
        {
            _depthLayers[r.Depth] = r.Layer;
            _randomizedImages.Add(r.Image);
            var t = Find(r.Method);
            if (!t.Randomization.TryGetValue(r.Depth, out var sums)) t.Randomization[r.Depth] = sums = new RandomizationSums();
            sums.Add(r);
            var c = Cells(r.Image, r.Method);
            c["randomized_layers"] = I(r.Depth); c["randomized_down_to"] = r.Layer; c["spearman"] = D(r.Spearman);
            if (r.Error != null) c["error"] = r.Error;
        }
    }

    private MethodTotals Find(string method)
    {
        var t = _totals.FirstOrDefault(m => m.Name == method);
        if (t != null) return t;
        t = new MethodTotals(method);
        int parent = _totals.FindIndex(m => Evaluator.OwnBoxRow(m.Name) == method);
        _totals.Insert(parent >= 0 ? parent + 1 : _totals.Count, t);
        return t;
    }

    private Dictionary<string, string> Cells(string image, string method)
    {
        var c = new Dictionary<string, string>(StringComparer.Ordinal) { ["image"] = image, ["method"] = method };
        _csv.Add(c);
        return c;
    }

    private static double R(double v, int digits) => Math.Round(v, digits, MidpointRounding.AwayFromZero);
    private static string Key(double fraction) => fraction.ToString("0.0##", CultureInfo.InvariantCulture);
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string B(bool v) => v ? "1" : "0";
    private static string D(double v) => double.IsNaN(v) ? "" : v.ToString("0.######", CultureInfo.InvariantCulture);

    /// <summary>A number, or null when it is undefined (NaN).</summary>
    private static void Number(Utf8JsonWriter w, string key, double v, int digits)
    {
        if (double.IsNaN(v)) w.WriteNull(key);
        else w.WriteNumber(key, R(v, digits));
    }

    private static void WriteSums(Utf8JsonWriter w, MetricSums s)
    {
        Number(w, "topOneLocError", s.TopOneLocError, 4);
        Number(w, "topOneLocAccuracy", s.TopOneLocAccuracy, 4);
        Number(w, "gtKnownLocAccuracy", s.GtKnownLocAccuracy, 4);
        Number(w, "pointingGame", s.PointingGame, 4);
        Number(w, "pointingStrict", s.StrictPointingGame, 4);
        Number(w, "top2Correlation", s.Top2Correlation, 6);
        Number(w, "deletionAuc", s.DeletionAuc, 6);
        Number(w, "insertionAuc", s.InsertionAuc, 6);
        w.WriteStartObject("fixationOnlyAccuracy");
        for (int i = 0; i < Evaluator.FixationOnlyFractions.Count; i++)
            Number(w, Key(Evaluator.FixationOnlyFractions[i]), s.FixationOnlyAccuracy(i), 4);
        w.WriteEndObject();
    }

    public byte[] Json()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("images", Images);
            w.WriteNumber("smallObjectImages", SmallObjectImages);
            w.WriteNumber("errors", _errors.Count);
            w.WriteString("model", Model);
            w.WriteNumber("threshold", Threshold);
            w.WriteNumber("labelOffset", LabelOffset);
            w.WriteNumber("iouThreshold", LocalizationMetrics.IouThreshold);
            w.WriteNumber("pointingTolerance", LocalizationMetrics.PointingTolerance);
            w.WriteNumber("smallObjectFraction", MapStatistics.SmallObjectFraction);
            w.WriteString("curveBaseline", "zero input after normalization (the preprocessing mean)");
            if (GridSettings is { } g)
            {
                w.WriteStartObject("grid");
                w.WriteNumber("seed", g.Seed);
                w.WriteNumber("collagesRequested", g.Requested);
                w.WriteStartObject("collages");
                foreach (var (k, n) in _collages) w.WriteNumber($"{k}x{k}", n);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            if (RandomizationSettings is { } rs)
            {
                w.WriteStartObject("randomization");
                w.WriteNumber("seed", rs.Seed);
                w.WriteNumber("weightedLayers", rs.Layers);
                w.WriteNumber("images", _randomizedImages.Count);
                w.WriteStartObject("depths");
                foreach (var (d, layer) in _depthLayers) w.WriteString(I(d), layer);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteStartObject("methods");
            foreach (var t in _totals)
            {
                w.WriteStartObject(t.Name);
                if (t.NotApplicable != null)
                {
                    w.WriteBoolean("notApplicable", true);
                    w.WriteString("reason", t.NotApplicable);
                }
                else
                {
                    if (t.Images > 0)
                    {
                        WriteSums(w, t.All);
                        w.WriteStartObject("smallObjects");
                        w.WriteNumber("images", t.Small.Images);
                        if (t.Small.Images > 0) WriteSums(w, t.Small);
                        w.WriteEndObject();
                    }
                    if (t.Grid.Count > 0)
                    {
                        w.WriteStartObject("grid");
                        foreach (var (k, s) in t.Grid)
                        {
                            w.WriteStartObject($"{k}x{k}");
                            w.WriteNumber("targets", s.Targets);
                            Number(w, "massInTile", s.MassInTile, 6);
                            Number(w, "maxInTile", s.MaxInTile, 4);
                            w.WriteEndObject();
                        }
                        w.WriteEndObject();
                    }
                    if (t.Randomization.Count > 0)
                    {
                        w.WriteStartObject("randomization");
                        foreach (var (d, s) in t.Randomization)
                        {
                            w.WriteStartObject(I(d));
                            w.WriteNumber("images", s.Images);
                            w.WriteNumber("failed", s.Failed);
                            Number(w, "spearman", s.Spearman, 6);
                            w.WriteEndObject();
                        }
                        w.WriteEndObject();
                    }
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartArray("errorImages");
            foreach (var (image, error) in _errors)
            {
                w.WriteStartObject();
                w.WriteString("image", image);
                w.WriteString("error", error);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>
    /// One row per image and method, then (in the order they were added) grid rows (one per collage tile and method:
    /// grid_* columns), randomization rows (one per image, method and depth: randomized_layers, spearman) and error
    /// rows (image and error only). Cells a row does not have are empty.
    /// </summary>
    public string Csv()
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(",", CsvColumns)).Append('\n');
        foreach (var row in _csv)
        {
            for (int i = 0; i < CsvColumns.Length; i++)
            {
                if (i > 0) sb.Append(',');
                if (row.TryGetValue(CsvColumns[i], out var v)) sb.Append(Quote(v));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Quote(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);

    private void Table(StringBuilder sb, Func<MethodTotals, MetricSums> pick)
    {
        sb.Append("| method | top-1 loc error % | top-1 loc acc % | GT-known loc % | pointing % | strict pointing % | top-1/top-2 map correlation | deletion AUC (lower better) | insertion AUC (higher better) |");
        foreach (var f in Evaluator.FixationOnlyFractions) sb.Append(CultureInfo.InvariantCulture, $" top {f * 100:0}% only: same top-1 % |");
        sb.Append('\n');
        int columns = 8 + Evaluator.FixationOnlyFractions.Count;
        sb.Append("|---|" + string.Concat(Enumerable.Repeat("---:|", columns)) + "\n");
        foreach (var t in _totals)
        {
            var s = pick(t);
            sb.Append("| ").Append(Cell(t.Name)).Append(" |");
            if (t.NotApplicable != null || s.Images == 0)
            {
                sb.Append(" not applicable: ").Append(Cell(t.NotApplicable ?? "no images")).Append(" |");
                sb.Append(string.Concat(Enumerable.Repeat(" |", columns - 1))).Append('\n');
                continue;
            }
            sb.Append(CultureInfo.InvariantCulture, $" {s.TopOneLocError:F2} | {s.TopOneLocAccuracy:F2} | {s.GtKnownLocAccuracy:F2} | {s.PointingGame:F2} | {s.StrictPointingGame:F2} | {F(s.Top2Correlation, "F3")} | {s.DeletionAuc:F4} | {s.InsertionAuc:F4} |");
            for (int i = 0; i < Evaluator.FixationOnlyFractions.Count; i++) sb.Append(CultureInfo.InvariantCulture, $" {s.FixationOnlyAccuracy(i):F2} |");
            sb.Append('\n');
        }
    }

    private static string F(double v, string format) => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>The results tables in Markdown (also printed to the terminal).</summary>
    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Evaluation of {Model} on {Images} images (label offset {LabelOffset}, heat-map box threshold {Threshold.ToString(CultureInfo.InvariantCulture)}, IoU >= {LocalizationMetrics.IouThreshold.ToString(CultureInfo.InvariantCulture)}, pointing tolerance {LocalizationMetrics.PointingTolerance.ToString(CultureInfo.InvariantCulture)} px)\n\n");
        Table(sb, t => t.All);
        sb.Append("\nBoxes: threshold the heat map at the fraction above of its maximum and box the largest connected region; ")
          .Append("\"(own box)\" rows use the box the method itself draws instead (fixations: under the weighted rules the coarse blur thresholded at 0.5, under the paper rules the tight box of the kept points; the other columns are those of the same heat map). ")
          .Append("Pointing (within the tolerance), strict pointing (inside a box), deletion, insertion and fixation-only use the top-1 class; GT-known uses the ground-truth class. ")
          .Append("The correlation is Pearson's between the maps of the top-1 and top-2 classes (lower: the map depends more on the class). ")
          .Append("Deletion sets the most salient input pixels to zero after normalization (the preprocessing mean); insertion starts from that all-zero input. ")
          .Append("center is a Gaussian centred on the image (sigma = a quarter of the short side) that ignores image and model; whole-image is a flat map (it points at the image centre) whose box is the whole image.\n");

        sb.Append(CultureInfo.InvariantCulture, $"\nSmall objects: {SmallObjectImages} of {Images} images, those whose every ground-truth box of the image's class covers under {MapStatistics.SmallObjectFraction * 100:0}% of the image.\n\n");
        Table(sb, t => t.Small);

        var sizes = _totals.SelectMany(t => t.Grid.Keys).Distinct().Order().ToList();
        if (sizes.Count > 0)
        {
            sb.Append("\nGrid pointing game: collages of photos the model classifies correctly alone, of different classes, each tile's class explained on the collage (")
              .Append(string.Join(", ", sizes.Select(k => $"{_collages.GetValueOrDefault(k)} collages {k}x{k}, chance {100.0 / (k * k):0.#}%")))
              .Append("). Mass: mean share of the map's positive mass in the right tile; max: % of targets whose map maximum is in the right tile.\n\n");
            sb.Append("| method |").Append(string.Concat(sizes.Select(k => $" {k}x{k} mass in tile | {k}x{k} max in tile % |"))).Append('\n');
            sb.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", 2 * sizes.Count))).Append('\n');
            foreach (var t in _totals.Where(t => t.Grid.Count > 0))
            {
                sb.Append("| ").Append(Cell(t.Name)).Append(" |");
                foreach (int k in sizes)
                    sb.Append(t.Grid.TryGetValue(k, out var g) ? $" {F(g.MassInTile, "F3")} | {F(g.MaxInTile, "F1")} |" : " - | - |");
                sb.Append('\n');
            }
        }

        if (_depthLayers.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\nRandomization check (cascading, top layer first, {_randomizedImages.Count} images): mean Spearman rank correlation between the map of the intact model and the map after randomizing the weights of the top d weighted layers (lower: the map depends more on the weights).\n\n");
            sb.Append("| method |").Append(string.Concat(_depthLayers.Select(d => $" d = {d.Key} (to {Cell(d.Value)}) |"))).Append('\n');
            sb.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", _depthLayers.Count))).Append('\n');
            foreach (var t in _totals.Where(t => t.Randomization.Count > 0))
            {
                sb.Append("| ").Append(Cell(t.Name)).Append(" |");
                foreach (var d in _depthLayers.Keys)
                    sb.Append(t.Randomization.TryGetValue(d, out var r) ? $" {F(r.Spearman, "F3")}{(r.Failed > 0 ? $" ({r.Failed} failed)" : "")} |" : " - |");
                sb.Append('\n');
            }
        }

        if (_errors.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n{_errors.Count} image{(_errors.Count == 1 ? "" : "s")} could not be evaluated:\n\n");
            foreach (var (image, error) in _errors) sb.Append("- ").Append(image).Append(": ").Append(error).Append('\n');
        }
        return sb.ToString();
    }
}
