using System.Globalization;

namespace CnnFixations.Cli;

/// <summary>
/// <c>--shard I/N</c>: which part of a run this process does. The inputs are numbered in the order a single
/// run processes them (the expanded image list: arguments in the order given, each folder or glob sorted by
/// ordinal path; for evaluate, the images of the ground truth in file order, after --limit), and input k
/// belongs to shard k mod N. The split depends only on that list, never on the machine, and the N shares
/// differ by at most one input.
/// </summary>
internal sealed record Shard(int Index, int Count)
{
    /// <summary>A run that is not split.</summary>
    public static readonly Shard Whole = new(0, 1);

    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new UsageException($"--shard '{text}' is not I/N (shard I of N, I from 0 to N-1, e.g. 0/4)");
        if (count < 1) throw new UsageException($"--shard '{text}': the number of shards must be at least 1");
        if (index >= count) throw new UsageException($"--shard '{text}': the shard index must be from 0 to {count - 1}");
        return new Shard(index, count);
    }

    /// <summary>The input numbers (positions in the whole list) of this shard, in order.</summary>
    public List<int> Select(int total)
    {
        var indices = new List<int>();
        for (int k = Index; k < total; k += Count) indices.Add(k);
        return indices;
    }

    public override string ToString() => $"{Index}/{Count}";
}
