using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace CnnFixations.Evaluation;

/// <summary>
/// One ground-truth box in the pixel frame of the image file: 0-based, inclusive, possibly fractional
/// coordinates. <see cref="ClassIndex"/> is the dataset's class index (before any label offset).
/// </summary>
public sealed record GroundTruthBox(int ClassIndex, double XMin, double YMin, double XMax, double YMax);

/// <summary>An image with all its ground-truth boxes; <see cref="Width"/>/<see cref="Height"/> are the annotated size when given.</summary>
public sealed record GroundTruthImage(string ImagePath, IReadOnlyList<GroundTruthBox> Boxes, int? Width = null, int? Height = null)
{
    /// <summary>The image's class: the class of its first box.</summary>
    public int ClassIndex => Boxes[0].ClassIndex;
}

/// <summary>
/// Reads ground-truth boxes: a CSV file (header with at least image,class_index,xmin,ymin,xmax,ymax; one
/// row per box) or a folder of Pascal VOC / ILSVRC XML files (which need a synset list).
/// </summary>
public static class GroundTruthReader
{
    private static readonly string[] Required = { "image", "class_index", "xmin", "ymin", "xmax", "ymax" };
    private static readonly string[] ImageExtensions = { ".JPEG", ".jpeg", ".jpg", ".JPG", ".png", ".PNG" };

    /// <summary>A CSV file or a folder of XML files, in file order (CSV: first appearance of each image; XML: ordinal file-name order).</summary>
    public static IReadOnlyList<GroundTruthImage> Read(string path, string? synsetsFile = null)
    {
        if (Directory.Exists(path))
        {
            if (synsetsFile == null)
                throw new CnnFixationsException($"'{path}' is a folder of XML annotations: their classes are synset names, so a synset list is needed (--synsets FILE, one synset per line, line i = class i)");
            return ReadVocFolder(path, ReadSynsets(synsetsFile));
        }
        if (!File.Exists(path)) throw new CnnFixationsException($"ground truth '{path}' not found");
        return ReadCsv(path);
    }

    /// <summary>One synset per non-empty line; line i (0-based, counting only non-empty lines) is class i. The first word of a line is the synset.</summary>
    public static IReadOnlyDictionary<string, int> ReadSynsets(string path)
    {
        if (!File.Exists(path)) throw new CnnFixationsException($"synset list '{path}' not found");
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        int index = 0;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var synset = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries)[0];
            if (!map.TryAdd(synset, index))
                throw new CnnFixationsException($"synset list '{path}': '{synset}' appears twice (classes {map[synset]} and {index})");
            index++;
        }
        if (map.Count == 0) throw new CnnFixationsException($"synset list '{path}' is empty");
        return map;
    }

    public static IReadOnlyList<GroundTruthImage> ReadCsv(string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        List<List<string>> rows;
        try { rows = ParseCsv(File.ReadAllText(path)); }
        catch (FormatException e) { throw new CnnFixationsException($"ground truth '{path}': {e.Message}"); }
        if (rows.Count == 0) throw new CnnFixationsException($"ground truth '{path}' is empty");
        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToList();
        var missing = Required.Where(r => !header.Contains(r)).ToList();
        if (missing.Count > 0)
            throw new CnnFixationsException($"ground truth '{path}': the header lacks {string.Join(", ", missing)} (it needs {string.Join(",", Required)})");
        int Col(string name) => header.IndexOf(name);
        int image = Col("image"), cls = Col("class_index"), x0 = Col("xmin"), y0 = Col("ymin"), x1 = Col("xmax"), y1 = Col("ymax");
        int width = Col("width"), height = Col("height");

        var order = new List<string>();
        var boxes = new Dictionary<string, List<GroundTruthBox>>(StringComparer.Ordinal);
        var sizes = new Dictionary<string, (int? W, int? H)>(StringComparer.Ordinal);
        for (int r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Count == 1 && row[0].Trim().Length == 0) continue;
            string where = $"ground truth '{path}' row {r + 1}";
            if (row.Count < header.Count)
                throw new CnnFixationsException($"{where} has {row.Count} fields, the header {header.Count}");
            string name = row[image].Trim();
            if (name.Length == 0) throw new CnnFixationsException($"{where}: the image is empty");
            string full = Path.GetFullPath(Path.Combine(folder, name));
            int classIndex = ParseInt(row[cls], where, "class_index");
            var box = new GroundTruthBox(classIndex, ParseCoord(row[x0], where, "xmin"), ParseCoord(row[y0], where, "ymin"),
                ParseCoord(row[x1], where, "xmax"), ParseCoord(row[y1], where, "ymax"));
            CheckBox(box, where);
            if (!boxes.TryGetValue(full, out var list))
            {
                boxes[full] = list = new List<GroundTruthBox>();
                order.Add(full);
                sizes[full] = (width >= 0 ? ParseInt(row[width], where, "width") : null, height >= 0 ? ParseInt(row[height], where, "height") : null);
            }
            list.Add(box);
        }
        if (order.Count == 0) throw new CnnFixationsException($"ground truth '{path}' has a header but no boxes");
        return order.Select(f => new GroundTruthImage(f, boxes[f], sizes[f].W, sizes[f].H)).ToList();
    }

    /// <summary>
    /// Every *.xml file of the folder (not its subfolders), in ordinal name order. The image is
    /// &lt;filename&gt; relative to the folder; when that file does not exist and the name has no
    /// extension (ILSVRC writes none), .JPEG, .jpeg, .jpg and .png are tried.
    /// </summary>
    public static IReadOnlyList<GroundTruthImage> ReadVocFolder(string folder, IReadOnlyDictionary<string, int> synsets)
    {
        var files = Directory.GetFiles(folder, "*.xml").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new CnnFixationsException($"annotation folder '{folder}' holds no .xml files");
        return files.Select(f => ReadVocFile(f, synsets)).ToList();
    }

    public static GroundTruthImage ReadVocFile(string file, IReadOnlyDictionary<string, int> synsets)
    {
        XDocument doc;
        try { doc = XDocument.Load(file); }
        catch (XmlException e) { throw new CnnFixationsException($"annotation '{file}' is not valid XML: {e.Message}"); }
        var root = doc.Root;
        if (root == null || root.Name.LocalName != "annotation") throw new CnnFixationsException($"annotation '{file}' has no <annotation> root");
        string? filename = root.Element("filename")?.Value.Trim();
        if (string.IsNullOrEmpty(filename)) throw new CnnFixationsException($"annotation '{file}' has no <filename>");
        string folder = Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".";
        string image = Path.GetFullPath(Path.Combine(folder, filename));
        if (!File.Exists(image) && Path.GetExtension(filename).Length == 0)
            image = ImageExtensions.Select(e => image + e).FirstOrDefault(File.Exists) ?? image;
        var boxes = new List<GroundTruthBox>();
        foreach (var obj in root.Elements("object"))
        {
            string where = $"annotation '{file}' object {boxes.Count + 1}";
            string name = obj.Element("name")?.Value.Trim() ?? throw new CnnFixationsException($"{where} has no <name>");
            if (!synsets.TryGetValue(name, out int cls)) throw new CnnFixationsException($"{where}: '{name}' is not in the synset list");
            var b = obj.Element("bndbox") ?? throw new CnnFixationsException($"{where} has no <bndbox>");
            double Coord(string tag) => ParseCoord(b.Element(tag)?.Value ?? throw new CnnFixationsException($"{where}: <bndbox> has no <{tag}>"), where, tag);
            var box = new GroundTruthBox(cls, Coord("xmin"), Coord("ymin"), Coord("xmax"), Coord("ymax"));
            CheckBox(box, where);
            boxes.Add(box);
        }
        if (boxes.Count == 0) throw new CnnFixationsException($"annotation '{file}' has no <object> with a box");
        var size = root.Element("size");
        int? w = size?.Element("width") is { } we ? ParseInt(we.Value, $"annotation '{file}'", "width") : null;
        int? h = size?.Element("height") is { } he ? ParseInt(he.Value, $"annotation '{file}'", "height") : null;
        return new GroundTruthImage(image, boxes, w, h);
    }

    /// <summary>RFC 4180 fields: comma-separated, double quotes around fields that hold commas, quotes (doubled) or line breaks.</summary>
    public static List<List<string>> ParseCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        bool quoted = false, wasQuoted = false, any = false;
        int i = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            any = true;
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"')
            {
                if (field.ToString().Trim().Length > 0 || wasQuoted) throw new FormatException($"a quote inside an unquoted field (character {i + 1})");
                field.Clear();
                quoted = wasQuoted = true;
            }
            else if (c == ',') { row.Add(field.ToString()); field.Clear(); wasQuoted = false; }
            else if (c == '\r' || c == '\n')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                row.Add(field.ToString()); field.Clear(); wasQuoted = false;
                rows.Add(row); row = new List<string>(); any = false;
            }
            else if (wasQuoted)
            {
                if (!char.IsWhiteSpace(c)) throw new FormatException($"text after a closing quote (character {i + 1})");
            }
            else field.Append(c);
        }
        if (quoted) throw new FormatException("a quoted field is not closed");
        if (any) { row.Add(field.ToString()); rows.Add(row); }
        return rows;
    }

    private static void CheckBox(GroundTruthBox b, string where)
    {
        if (b.ClassIndex < 0) throw new CnnFixationsException($"{where}: class index {b.ClassIndex} is negative");
        if (b.XMax < b.XMin || b.YMax < b.YMin)
            throw new CnnFixationsException($"{where}: the box [{b.XMin}, {b.YMin}, {b.XMax}, {b.YMax}] has xmax < xmin or ymax < ymin");
    }

    private static int ParseInt(string text, string where, string what) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v : throw new CnnFixationsException($"{where}: {what} '{text}' is not an integer");

    private static double ParseCoord(string text, string where, string what) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new CnnFixationsException($"{where}: {what} '{text}' is not a number");
}
