using System.Text.RegularExpressions;

namespace CnnFixations.Cli;

/// <summary>An image to explain and the path (without extension) of its outputs relative to the output folder.</summary>
internal sealed record InputFile(string Path, string OutputStem);

/// <summary>
/// Expands the command's image arguments: files, folders (their images; with --recursive their
/// subfolders too) and globs (* ? and ** for any depth). Output stems mirror the tree below each
/// folder or glob base; they never contain '..' or a root, so outputs stay inside the output folder.
/// </summary>
internal static class InputFiles
{
    public static readonly string[] ImageExtensions = { ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif" };

    public static List<InputFile> Expand(IEnumerable<string> arguments, bool recursive)
    {
        var result = new List<InputFile>();
        var usedStems = new HashSet<string>(StringComparer.Ordinal);
        void Add(string path, string relative)
        {
            string stem = SafeStem(relative);
            string unique = stem;
            for (int n = 2; !usedStems.Add(unique); n++) unique = $"{stem}_{n}";
            result.Add(new InputFile(path, unique));
        }

        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                var options = new EnumerationOptions { RecurseSubdirectories = recursive, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };
                var files = Directory.EnumerateFiles(argument, "*", options).Where(IsImage).Order(StringComparer.Ordinal).ToList();
                if (files.Count == 0)
                    throw new CnnFixationsException($"folder '{argument}' holds no image ({string.Join(", ", ImageExtensions)}){(recursive ? "" : "; add --recursive for its subfolders")}");
                foreach (var f in files) Add(f, Path.GetRelativePath(argument, f));
            }
            else if (argument.IndexOfAny(new[] { '*', '?' }) >= 0)
            {
                var (root, regex) = Glob(argument);
                var files = Directory.Exists(root)
                    ? Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                        .Where(f => regex.IsMatch(Path.GetRelativePath(root, f).Replace('\\', '/'))).Order(StringComparer.Ordinal).ToList()
                    : new List<string>();
                if (files.Count == 0) throw new CnnFixationsException($"no file matches '{argument}'");
                foreach (var f in files) Add(f, Path.GetRelativePath(root, f));
            }
            else Add(argument, Path.GetFileName(argument)); // a missing file fails later, with its own error row
        }
        return result;
    }

    private static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The output stem: the relative path without extension, with unsafe parts replaced.</summary>
    private static string SafeStem(string relative)
    {
        var parts = relative.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p is "." or ".." ? "_" : p)
            .ToList();
        if (parts.Count == 0) parts.Add("image");
        parts[^1] = Path.GetFileNameWithoutExtension(parts[^1]) is { Length: > 0 } s ? s : "image";
        return string.Join('/', parts.Select(p => new string(p.Select(c => char.IsControl(c) || c is ':' or '*' or '?' or '"' or '<' or '>' or '|' ? '_' : c).ToArray())));
    }

    /// <summary>The folder a glob starts from (its part before the first wildcard) and a regex for the rest.</summary>
    private static (string Root, Regex Pattern) Glob(string glob)
    {
        var parts = glob.Replace('\\', '/').Split('/');
        int first = Array.FindIndex(parts, p => p.IndexOfAny(new[] { '*', '?' }) >= 0);
        string root = first == 0 ? "." : string.Join('/', parts[..first]);
        if (root.Length == 0) root = "/";
        var pattern = string.Join("/", parts[first..].Select(p => p == "**" ? "\u0001" : Regex.Escape(p).Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]")));
        pattern = pattern.Replace("\u0001/", "(.*/)?").Replace("\u0001", ".*");
        return (root, new Regex("^" + pattern + "$", RegexOptions.CultureInvariant));
    }
}
