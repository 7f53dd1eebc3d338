using System.CommandLine;
using CnnFixations.Maps;

namespace CnnFixations.Cli;

/// <summary>
/// <c>cnn-fixations merge DIR... --out DIR</c>: joins the output folders of the shards of one explain or evaluate
/// run (made with --shard I/N) into the outputs a single run writes: results.jsonl, results.csv and the per-image
/// files for explain; evaluation.json/.csv/.md with the metrics recomputed from every row for evaluate. Refuses
/// folders of different commands, models, options or inputs, shards that overlap, and missing inputs.
/// </summary>
internal static class MergeCommand
{
    private static readonly string[] ExplainRunFiles = { "results.jsonl", "results.csv", RunManifest.ExplainFile, "report.html" };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var dirs = new Argument<string[]>("folders") { Description = "The --out folders of the shards (explain or evaluate, each with its run file results.run.jsonl or evaluation.run.jsonl).", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<string>("--out", "-o") { Description = "Folder for the merged outputs (not one of the shards' folders).", Required = true };
        var resultsOnly = new Option<bool>("--results-only") { Description = "explain: write only results.jsonl, results.csv and the run file; do not copy the per-image files." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var command = new Command("merge", "Join the outputs of the shards of one explain or evaluate run (--shard I/N) into the outputs of a single run; " +
            "evaluate's metrics are recomputed from every image's rows.")
        {
            dirs, outDir, resultsOnly, quiet,
        };
        command.SetAction(parse => Run(parse.GetValue(dirs)!, parse.GetValue(outDir)!, parse.GetValue(resultsOnly), parse.GetValue(quiet), stdout));
        return command;
    }

    private sealed record Part(string Dir, RunManifest Manifest);

    private static int Run(string[] dirs, string outDir, bool resultsOnly, bool quiet, TextWriter stdout)
    {
        if (dirs.FirstOrDefault(d => d.StartsWith('-') && d.Length > 1) is { } unknown)
            throw new UsageException($"unknown option '{unknown}' (see 'cnn-fixations merge --help')");
        string outFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        var parts = new List<Part>();
        foreach (var dir in dirs)
        {
            if (!Directory.Exists(dir)) throw new CnnFixationsException($"folder '{dir}' not found");
            if (string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)), outFull, StringComparison.Ordinal))
                throw new UsageException($"--out '{outDir}' is one of the folders to merge; give a new folder");
            if (parts.Any(p => string.Equals(Path.GetFullPath(p.Dir), Path.GetFullPath(dir), StringComparison.Ordinal)))
                throw new UsageException($"folder '{dir}' is given twice");
            bool explain = File.Exists(Path.Combine(dir, RunManifest.ExplainFile)), evaluate = File.Exists(Path.Combine(dir, RunManifest.EvaluateFile));
            if (explain && evaluate)
                throw new CnnFixationsException($"'{dir}' holds the outputs of both an explain and an evaluate run; give each run its own --out folder");
            if (!explain && !evaluate)
                throw new CnnFixationsException($"'{dir}' has no {RunManifest.ExplainFile} or {RunManifest.EvaluateFile}: it is not the --out folder of an explain (batch) or evaluate run");
            string file = Path.Combine(dir, explain ? RunManifest.ExplainFile : RunManifest.EvaluateFile);
            parts.Add(new Part(dir, RunManifest.Read(file)));
        }

        CheckCompatible(parts);
        var whole = CheckCoverage(parts);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"output folder '{outDir}' cannot be created: {e.Message}", e);
        }

        var first = parts[0].Manifest;
        var manifest = first with { Shard = Shard.Whole, Images = whole.Select(e => (e.Index, e.Lines.Count)).ToList() };
        if (first.Command == "explain")
        {
            var csv = CsvRows(parts, whole);
            if (!resultsOnly) CopyImageFiles(parts, outDir);
            AtomicFile.Write(Path.Combine(outDir, "results.jsonl"), s => { foreach (var e in whole) foreach (var line in e.Lines) s.Write(line); });
            AtomicFile.Write(Path.Combine(outDir, "results.csv"), s => { foreach (var row in csv) s.Write(row); });
            AtomicFile.WriteAllBytes(Path.Combine(outDir, RunManifest.ExplainFile), manifest.ToJson());
            if (!quiet)
                stdout.WriteLine($"merged {parts.Count} folders, {whole.Count} images: wrote results.jsonl, results.csv and {RunManifest.ExplainFile}" +
                                 $"{(resultsOnly ? "" : " and copied the per-image files")} to {outDir}");
        }
        else
        {
            var report = EvaluationRows.NewReport(first.Report ?? throw new CnnFixationsException($"'{parts[0].Dir}': the run file has no report header"));
            using var rows = new MemoryStream();
            foreach (var e in whole)
            {
                report.Add(e.Lines.Select(l => EvaluationRows.Parse(l, $"'{Path.Combine(e.Dir, EvaluationRows.FileName)}'")).ToList());
                foreach (var line in e.Lines) rows.Write(line);
            }
            EvaluateCommand.WriteOutputs(report, outDir, stdout, manifest, rows.ToArray());
            if (!quiet) stdout.WriteLine($"merged {parts.Count} folders, {whole.Count} images; wrote evaluation.json, evaluation.csv and evaluation.md to {outDir}");
        }
        return CliApp.Ok;
    }

    private static void CheckCompatible(List<Part> parts)
    {
        var (d0, m0) = (parts[0].Dir, parts[0].Manifest);
        foreach (var (dir, m) in parts.Skip(1))
        {
            if (m.Command != m0.Command)
                throw new CnnFixationsException($"cannot merge the outputs of {m0.Command} ('{d0}') and {m.Command} ('{dir}')");
            if (m.ModelSha256 != m0.ModelSha256)
                throw new CnnFixationsException($"'{dir}' was made with another model than '{d0}' ({m.ModelFile} sha256 {m.ModelSha256[..Math.Min(12, m.ModelSha256.Length)]}, not {m0.ModelFile} sha256 {m0.ModelSha256[..Math.Min(12, m0.ModelSha256.Length)]})");
            if (m.Options != m0.Options || m.Report != m0.Report)
                throw new CnnFixationsException($"'{dir}' was made with other options than '{d0}' ({DifferentOption(m0.Options, m.Options) ?? "report settings"}); shards must be run with the same options");
            if (m.Shard.Count != m0.Shard.Count)
                throw new CnnFixationsException($"'{dir}' is shard {m.Shard} but '{d0}' is shard {m0.Shard}: shards of one run share N");
            if (m.Inputs != m0.Inputs)
                throw new CnnFixationsException($"'{dir}' split a list of {m.Inputs} inputs but '{d0}' one of {m0.Inputs}: the shards did not see the same inputs");
        }
        for (int i = 0; i < parts.Count; i++)
            for (int j = i + 1; j < parts.Count; j++)
                if (parts[i].Manifest.Shard == parts[j].Manifest.Shard)
                    throw new CnnFixationsException($"'{parts[i].Dir}' and '{parts[j].Dir}' are both shard {parts[i].Manifest.Shard}: the shards overlap");
    }

    /// <summary>The first option whose value differs, as 'name: a vs b' (nested options as 'group.name').</summary>
    private static string? DifferentOption(string a, string b)
    {
        using var da = System.Text.Json.JsonDocument.Parse(a);
        using var db = System.Text.Json.JsonDocument.Parse(b);
        return Difference(da.RootElement, db.RootElement, "");
    }

    private static string? Difference(System.Text.Json.JsonElement a, System.Text.Json.JsonElement b, string prefix)
    {
        if (a.ValueKind != System.Text.Json.JsonValueKind.Object || b.ValueKind != System.Text.Json.JsonValueKind.Object)
            return a.GetRawText() == b.GetRawText() ? null : $"{prefix.TrimEnd('.')}: {a.GetRawText()} vs {b.GetRawText()}";
        foreach (var p in a.EnumerateObject())
        {
            if (!b.TryGetProperty(p.Name, out var other)) return $"{prefix}{p.Name} only in the first";
            if (Difference(p.Value, other, prefix + p.Name + ".") is { } d) return d;
        }
        return b.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => !a.TryGetProperty(n, out _)) is { } extra ? $"{prefix}{extra} only in the second" : null;
    }

    private sealed record Entry(int Index, string Dir, List<byte[]> Lines, int Position);

    /// <summary>Every input's lines of the per-input results file, in input order; an error for overlaps and missing inputs.</summary>
    private static List<Entry> CheckCoverage(List<Part> parts)
    {
        var entries = new List<Entry>();
        var owner = new Dictionary<int, string>();
        foreach (var (dir, m) in parts)
        {
            foreach (var (index, _) in m.Images)
            {
                if (index % m.Shard.Count != m.Shard.Index)
                    throw new CnnFixationsException($"'{dir}': input {index} does not belong to shard {m.Shard}; the run file is damaged");
                if (!owner.TryAdd(index, dir))
                    throw new CnnFixationsException($"input {index} is in both '{owner[index]}' and '{dir}': the shards overlap");
            }
            string file = Path.Combine(dir, m.Command == "explain" ? "results.jsonl" : EvaluationRows.FileName);
            var lines = ReadLines(file);
            int expected = m.Images.Sum(i => i.Lines);
            if (lines.Count != expected)
                throw new CnnFixationsException($"'{file}' has {lines.Count} lines but its run file counts {expected}: the folder was changed after the run");
            int at = 0;
            for (int p = 0; p < m.Images.Count; p++)
            {
                var (index, count) = m.Images[p];
                entries.Add(new Entry(index, dir, lines.GetRange(at, count), p));
                at += count;
            }
        }
        int total = parts[0].Manifest.Inputs;
        if (owner.Count < total)
        {
            var missing = Enumerable.Range(0, total).Where(k => !owner.ContainsKey(k)).ToList();
            int n = parts[0].Manifest.Shard.Count;
            var shards = missing.Select(k => k % n).Distinct().Order().Select(s => $"{s}/{n}");
            throw new CnnFixationsException($"{missing.Count} of {total} inputs are in no folder (input {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", ..." : "")}; " +
                                            $"shard {string.Join(", ", shards)}): run or finish those shards (--skip-existing resumes an explain run) and merge again");
        }
        return entries.OrderBy(e => e.Index).ToList();
    }

    private static List<byte[]> ReadLines(string file)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot read '{file}': {e.Message}");
        }
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
            if (bytes[i] == (byte)'\n') { lines.Add(bytes[start..(i + 1)]); start = i + 1; }
        if (start < bytes.Length) throw new CnnFixationsException($"'{file}' ends in the middle of a line: it was cut short");
        return lines;
    }

    /// <summary>results.csv: the header, then each input's row in input order (one row per input in each shard's file).</summary>
    private static List<byte[]> CsvRows(List<Part> parts, List<Entry> whole)
    {
        var rowsOf = new Dictionary<string, List<byte[]>>(StringComparer.Ordinal);
        byte[]? header = null;
        foreach (var (dir, m) in parts)
        {
            string file = Path.Combine(dir, "results.csv");
            var records = CsvRecords(file);
            if (records.Count != m.Images.Count + 1)
                throw new CnnFixationsException($"'{file}' has {records.Count - 1} rows but its run file lists {m.Images.Count} images: the folder was changed after the run");
            if (header == null) header = records[0];
            else if (!header.AsSpan().SequenceEqual(records[0])) throw new CnnFixationsException($"'{file}' has another header than the first folder's results.csv");
            rowsOf[dir] = records;
        }
        var result = new List<byte[]> { header! };
        result.AddRange(whole.Select(e => rowsOf[e.Dir][e.Position + 1]));
        return result;
    }

    /// <summary>The records of a CSV file, each with its line break; quoted fields may hold line breaks.</summary>
    private static List<byte[]> CsvRecords(string file)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CnnFixationsException($"cannot read '{file}': {e.Message}");
        }
        var records = new List<byte[]>();
        bool quoted = false;
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'"') quoted = !quoted;
            else if (bytes[i] == (byte)'\n' && !quoted) { records.Add(bytes[start..(i + 1)]); start = i + 1; }
        }
        if (start < bytes.Length || records.Count == 0) throw new CnnFixationsException($"'{file}' is empty or cut short");
        return records;
    }

    /// <summary>Copies every per-image output of the shards (all but the run files) to the same place under <paramref name="outDir"/>.</summary>
    private static void CopyImageFiles(List<Part> parts, string outDir)
    {
        var source = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (dir, _) in parts)
        {
            foreach (var file in Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(dir, file);
                if (ExplainRunFiles.Contains(relative) || Path.GetFileName(relative).StartsWith('.')) continue;
                if (source.TryGetValue(relative, out var other))
                    throw new CnnFixationsException($"'{relative}' is in both '{other}' and '{dir}': the shards overlap");
                source[relative] = dir;
                string target = Path.Combine(outDir, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
                try { File.Copy(file, target, overwrite: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new CnnFixationsException($"cannot copy '{file}' to '{target}': {e.Message}");
                }
            }
        }
    }
}
