namespace CnnFixations.Evaluation;

/// <summary>
/// A small deterministic generator (SplitMix64), so that collage selection and weight randomization give the
/// same result on every machine and runtime version for the same seed.
/// </summary>
public sealed class SeededRandom
{
    private ulong _state;

    public SeededRandom(long seed) => _state = unchecked((ulong)seed);

    public ulong NextUInt64()
    {
        unchecked
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Uniform in (0, 1]: 53 random bits.</summary>
    public double NextUnit() => ((NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>A standard normal value (Box-Muller, the cosine branch only).</summary>
    public double NextGaussian() => Math.Sqrt(-2 * Math.Log(NextUnit())) * Math.Cos(2 * Math.PI * NextUnit());

    /// <summary>Fisher-Yates shuffle in place, from the last element down; index j = next value mod (i + 1).</summary>
    public void Shuffle<T>(IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = (int)(NextUInt64() % (ulong)(i + 1));
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
