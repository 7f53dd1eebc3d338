using System.Globalization;
using System.Text.RegularExpressions;
using CnnFixations.Onnx;

namespace CnnFixations.Unravel;

/// <summary>
/// Where a walk starts: a tensor, optionally a channel, optionally a position. Written
/// <c>TENSOR</c> (its most active neuron), <c>TENSOR:c</c> (every position of channel c whose
/// activation is positive, as the spec defines a channel start) or <c>TENSOR:c,y,x</c> (one neuron;
/// <c>TENSOR:n</c> is neuron n of a vector).
/// </summary>
public sealed partial record StartPoint(string Tensor, int? Channel, int[]? Position)
{
    [GeneratedRegex(@"^(?<name>.+):(?<idx>\d+(,\d+)*)$")]
    private static partial Regex Pattern();

    public static StartPoint Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new CnnFixationsException("--start needs a tensor name, as TENSOR[:c[,y,x]]");
        var m = Pattern().Match(text);
        if (!m.Success) return new StartPoint(text, null, null);
        var numbers = m.Groups["idx"].Value.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return numbers.Length switch
        {
            1 => new StartPoint(m.Groups["name"].Value, numbers[0], null),
            3 => new StartPoint(m.Groups["name"].Value, numbers[0], numbers[1..]),
            _ => throw new CnnFixationsException($"--start '{text}': give TENSOR, TENSOR:c or TENSOR:c,y,x"),
        };
    }

    /// <summary>The start neurons on the tensor, given its forward value.</summary>
    public FixationSet Neurons(TensorValue value)
    {
        var set = new FixationSet(Tensor, value.Shape);
        var shape = value.Shape;
        bool spatial = shape.Length == 4 && shape[0] == 1;
        if (Channel is not int c)
        {
            int best = -1;
            for (int i = 0; i < value.Length; i++)
                if (!float.IsNaN(value.Data[i]) && (best < 0 || value.Data[i] > value.Data[best])) best = i;
            if (best >= 0) set.Add(best);
            return set;
        }
        int channels = shape.Length >= 2 ? shape[1] : shape.Length == 1 ? shape[0] : 1;
        if (c < 0 || c >= channels)
            throw new CnnFixationsException($"--start: channel {c} is outside tensor '{Tensor}' of shape {Shapes.Format(shape)} ({channels} channels)");
        if (Position is { } p)
        {
            if (!spatial) throw new CnnFixationsException($"--start: tensor '{Tensor}' of shape {Shapes.Format(shape)} has no (y,x) positions; give TENSOR:n");
            if (p[0] < 0 || p[0] >= shape[2] || p[1] < 0 || p[1] >= shape[3])
                throw new CnnFixationsException($"--start: position ({p[0]},{p[1]}) is outside tensor '{Tensor}' of shape {Shapes.Format(shape)}");
            set.Add((c * shape[2] + p[0]) * shape[3] + p[1]);
            return set;
        }
        if (!spatial || shape[2] * shape[3] == 1)
        {
            int inner = shape.Length >= 2 ? (int)(value.Length / Math.Max(1, shape[0] * shape[1])) : 1;
            for (int i = 0; i < inner; i++) set.Add(c * inner + i);
            return set;
        }
        int plane = shape[2] * shape[3];
        for (int i = 0; i < plane; i++)
            if (value.Data[c * plane + i] > 0) set.Add(c * plane + i);
        if (set.IsEmpty)
            throw new CnnFixationsException($"--start: channel {c} of tensor '{Tensor}' has no positive activation on this input; give a neuron TENSOR:c,y,x");
        return set;
    }

    public override string ToString() =>
        Channel is not int c ? Tensor : Position is { } p ? $"{Tensor}:{c},{p[0]},{p[1]}" : $"{Tensor}:{c}";
}
