using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CnnFixations.Evaluation;

/// <summary>The totals of one row of the table (a method, or a method's points box).</summary>
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
    public int Images { get; private set; }
    public int TopOneLocalized { get; private set; }
    public int GtKnownLocalized { get; private set; }
    public int PointingHits { get; private set; }
    public double DeletionSum { get; private set; }
    public double InsertionSum { get; private set; }
    public int[] FixationOnlySame { get; } = new int[Evaluator.FixationOnlyFractions.Count];

    public void Add(ImageResult r)
    {
        Images++;
        if (r.TopOneLocalized) TopOneLocalized++;
        if (r.GtKnownLocalized) GtKnownLocalized++;
        if (r.PointingHit) PointingHits++;
        DeletionSum += r.DeletionAuc;
        InsertionSum += r.InsertionAuc;
        for (int i = 0; i < FixationOnlySame.Length; i++) if (r.FixationOnlySame[i]) FixationOnlySame[i]++;
    }

    private double Percent(int count) => Images == 0 ? double.NaN : 100.0 * count / Images;
    public double TopOneLocAccuracy => Percent(TopOneLocalized);
    public double TopOneLocError => Images == 0 ? double.NaN : 100 - TopOneLocAccuracy;
    public double GtKnownLocAccuracy => Percent(GtKnownLocalized);
    public double PointingGame => Percent(PointingHits);
    public double DeletionAuc => Images == 0 ? double.NaN : DeletionSum / Images;
    public double InsertionAuc => Images == 0 ? double.NaN : InsertionSum / Images;
    public double FixationOnlyAccuracy(int i) => Percent(FixationOnlySame[i]);
}

/// <summary>Collects the per-image rows and writes evaluation.json, evaluation.csv and the Markdown table.</summary>
public sealed class EvaluationReport
{
    private readonly List<MethodTotals> _totals = new();
    private readonly List<ImageResult> _rows = new();
    private readonly HashSet<string> _images = new(StringComparer.Ordinal);

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
    public IReadOnlyList<MethodTotals> Totals => _totals;
    public IReadOnlyList<ImageResult> Rows => _rows;

    /// <summary>Adds one image's rows; a row of a method's points box goes right after the method's row in the table.</summary>
    public void Add(IEnumerable<ImageResult> rows)
    {
        foreach (var r in rows)
        {
            _images.Add(r.Image);
            _rows.Add(r);
            var t = _totals.FirstOrDefault(m => m.Name == r.Method);
            if (t == null)
            {
                t = new MethodTotals(r.Method);
                int parent = _totals.FindIndex(m => Evaluator.PointsBoxRow(m.Name) == r.Method);
                _totals.Insert(parent >= 0 ? parent + 1 : _totals.Count, t);
            }
            t.Add(r);
        }
    }

    private static double R(double v, int digits) => Math.Round(v, digits, MidpointRounding.AwayFromZero);
    private static string Key(double fraction) => fraction.ToString("0.0##", CultureInfo.InvariantCulture);

    public byte[] Json()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("images", Images);
            w.WriteString("model", Model);
            w.WriteNumber("threshold", Threshold);
            w.WriteNumber("labelOffset", LabelOffset);
            w.WriteNumber("iouThreshold", LocalizationMetrics.IouThreshold);
            w.WriteNumber("pointingTolerance", LocalizationMetrics.PointingTolerance);
            w.WriteString("curveBaseline", "zero input after normalization (the preprocessing mean)");
            w.WriteStartObject("methods");
            foreach (var t in _totals)
            {
                w.WriteStartObject(t.Name);
                if (t.NotApplicable != null)
                {
                    w.WriteBoolean("notApplicable", true);
                    w.WriteString("reason", t.NotApplicable);
                }
                else if (t.Images > 0)
                {
                    w.WriteNumber("topOneLocError", R(t.TopOneLocError, 4));
                    w.WriteNumber("topOneLocAccuracy", R(t.TopOneLocAccuracy, 4));
                    w.WriteNumber("gtKnownLocAccuracy", R(t.GtKnownLocAccuracy, 4));
                    w.WriteNumber("pointingGame", R(t.PointingGame, 4));
                    w.WriteNumber("deletionAuc", R(t.DeletionAuc, 6));
                    w.WriteNumber("insertionAuc", R(t.InsertionAuc, 6));
                    w.WriteStartObject("fixationOnlyAccuracy");
                    for (int i = 0; i < Evaluator.FixationOnlyFractions.Count; i++)
                        w.WriteNumber(Key(Evaluator.FixationOnlyFractions[i]), R(t.FixationOnlyAccuracy(i), 4));
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    public string Csv()
    {
        var sb = new StringBuilder();
        sb.Append("image,method,gt_class,predicted_class,label_right,top1_iou,top1_localized,gt_known_iou,gt_known_localized,point_x,point_y,pointing_hit,deletion_auc,insertion_auc");
        foreach (var f in Evaluator.FixationOnlyFractions) sb.Append(",fixation_only_").Append(Key(f));
        sb.Append('\n');
        foreach (var r in _rows)
        {
            sb.Append(Quote(r.Image)).Append(',').Append(Quote(r.Method)).Append(',')
              .Append(I(r.GtClass)).Append(',').Append(I(r.PredictedClass)).Append(',').Append(B(r.LabelRight)).Append(',')
              .Append(D(r.TopOneIou)).Append(',').Append(B(r.TopOneLocalized)).Append(',')
              .Append(D(r.GtKnownIou)).Append(',').Append(B(r.GtKnownLocalized)).Append(',')
              .Append(I(r.PointX)).Append(',').Append(I(r.PointY)).Append(',').Append(B(r.PointingHit)).Append(',')
              .Append(D(r.DeletionAuc)).Append(',').Append(D(r.InsertionAuc));
            foreach (bool same in r.FixationOnlySame) sb.Append(',').Append(B(same));
            sb.Append('\n');
        }
        return sb.ToString();

        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        static string B(bool v) => v ? "1" : "0";
        static string D(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
    }

    private static string Quote(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    /// <summary>The results table in Markdown (also printed to the terminal).</summary>
    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Evaluation of {Model} on {Images} images (label offset {LabelOffset}, heat-map box threshold {Threshold.ToString(CultureInfo.InvariantCulture)}, IoU >= {LocalizationMetrics.IouThreshold.ToString(CultureInfo.InvariantCulture)}, pointing tolerance {LocalizationMetrics.PointingTolerance.ToString(CultureInfo.InvariantCulture)} px)\n\n");
        sb.Append("| method | top-1 loc error % | top-1 loc acc % | GT-known loc % | pointing % | deletion AUC (lower better) | insertion AUC (higher better) |");
        foreach (var f in Evaluator.FixationOnlyFractions) sb.Append(CultureInfo.InvariantCulture, $" top {f * 100:0}% only: same top-1 % |");
        sb.Append('\n');
        sb.Append("|---|" + string.Concat(Enumerable.Repeat("---:|", 6 + Evaluator.FixationOnlyFractions.Count)) + "\n");
        foreach (var t in _totals)
        {
            sb.Append("| ").Append(t.Name.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |");
            if (t.NotApplicable != null || t.Images == 0)
            {
                sb.Append(" not applicable: ").Append((t.NotApplicable ?? "no images").Replace("|", "\\|", StringComparison.Ordinal)).Append(" |");
                sb.Append(string.Concat(Enumerable.Repeat(" |", 5 + Evaluator.FixationOnlyFractions.Count))).Append('\n');
                continue;
            }
            sb.Append(CultureInfo.InvariantCulture, $" {t.TopOneLocError:F2} | {t.TopOneLocAccuracy:F2} | {t.GtKnownLocAccuracy:F2} | {t.PointingGame:F2} | {t.DeletionAuc:F4} | {t.InsertionAuc:F4} |");
            for (int i = 0; i < Evaluator.FixationOnlyFractions.Count; i++) sb.Append(CultureInfo.InvariantCulture, $" {t.FixationOnlyAccuracy(i):F2} |");
            sb.Append('\n');
        }
        sb.Append("\nBoxes: threshold the heat map at the fraction above of its maximum and box the largest connected region; ")
          .Append("\"(points box)\" rows use the method's tight box of its kept points instead (the other columns are those of the same heat map). ")
          .Append("Pointing, deletion, insertion and fixation-only use the top-1 class; GT-known uses the ground-truth class. ")
          .Append("Deletion sets the most salient input pixels to zero after normalization (the preprocessing mean); insertion starts from that all-zero input.\n");
        return sb.ToString();
    }
}
