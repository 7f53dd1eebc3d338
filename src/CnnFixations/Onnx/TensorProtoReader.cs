using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CnnFixations.Onnx.Proto;

namespace CnnFixations.Onnx;

/// <summary>Reads the values of a TensorProto: raw_data, typed data fields, or external data files.</summary>
internal static class TensorProtoReader
{
    public static ConstTensor Read(TensorProto t, string? modelDirectory)
    {
        int[] shape = new int[t.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw new CnnFixationsException($"tensor '{t.Name}' has an invalid dimension {d}");
            shape[i] = (int)d;
        }
        long count = Shapes.ElementCount(shape);
        if (count > int.MaxValue) throw new CnnFixationsException($"tensor '{t.Name}' is too large ({count} elements)");
        int n = (int)count;

        ReadOnlySpan<byte> raw = default;
        byte[]? external = null;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            external = ReadExternal(t, modelDirectory);
            raw = external;
        }
        else if (!t.RawData.IsEmpty)
        {
            raw = t.RawData.Span;
        }
        bool hasRaw = external != null || !t.RawData.IsEmpty;

        var type = (TensorProto.Types.DataType)t.DataType;
        Array data = type switch
        {
            TensorProto.Types.DataType.Float => hasRaw ? FromRaw<float>(raw, n, t) : Check(t.FloatData.ToArray(), n, t),
            TensorProto.Types.DataType.Double => hasRaw ? FromRaw<double>(raw, n, t) : Check(t.DoubleData.ToArray(), n, t),
            TensorProto.Types.DataType.Int64 => hasRaw ? FromRaw<long>(raw, n, t) : Check(t.Int64Data.ToArray(), n, t),
            TensorProto.Types.DataType.Int32 => hasRaw ? FromRaw<int>(raw, n, t) : Check(t.Int32Data.ToArray(), n, t),
            TensorProto.Types.DataType.Int16 => hasRaw ? Widen(FromRaw<short>(raw, n, t)) : Check(t.Int32Data.ToArray(), n, t),
            TensorProto.Types.DataType.Uint16 => hasRaw ? Widen(FromRaw<ushort>(raw, n, t)) : Check(t.Int32Data.ToArray(), n, t),
            TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool =>
                hasRaw ? FromRaw<byte>(raw, n, t) : Check(t.Int32Data.Select(v => (byte)v).ToArray(), n, t),
            TensorProto.Types.DataType.Int8 => hasRaw ? FromRaw<sbyte>(raw, n, t) : Check(t.Int32Data.Select(v => (sbyte)v).ToArray(), n, t),
            TensorProto.Types.DataType.Float16 => hasRaw
                ? Array.ConvertAll(FromRaw<Half>(raw, n, t), h => (float)h)
                : Check(t.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(), n, t),
            _ => throw new CnnFixationsException($"tensor '{t.Name}' has element type {type}, which is not supported"),
        };
        return new ConstTensor(shape, data);
    }

    private static T[] FromRaw<T>(ReadOnlySpan<byte> raw, int n, TensorProto t) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        if ((long)raw.Length != (long)n * size)
            throw new CnnFixationsException($"tensor '{t.Name}' has {raw.Length} bytes of data, expected {(long)n * size}");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        var result = new T[n];
        raw.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    private static int[] Widen(short[] v) => Array.ConvertAll(v, x => (int)x);
    private static int[] Widen(ushort[] v) => Array.ConvertAll(v, x => (int)x);

    private static T[] Check<T>(T[] values, int n, TensorProto t)
    {
        if (values.Length != n)
            throw new CnnFixationsException($"tensor '{t.Name}' has {values.Length} values, its shape needs {n}");
        return values;
    }

    private static byte[] ReadExternal(TensorProto t, string? modelDirectory)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = long.Parse(e.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "length": length = long.Parse(e.Value, System.Globalization.CultureInfo.InvariantCulture); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new CnnFixationsException($"tensor '{t.Name}' is stored externally but names no file");
        if (modelDirectory == null)
            throw new CnnFixationsException($"tensor '{t.Name}' is stored in external file '{location}', but the model was not loaded from a file");
        string dir = Path.GetFullPath(modelDirectory);
        string path = Path.GetFullPath(Path.Combine(dir, location));
        if (Path.IsPathRooted(location) || !path.StartsWith(dir.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' lies outside the model's folder");
        if (!File.Exists(path))
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' not found next to the model");
        using var fs = File.OpenRead(path);
        if (length < 0) length = fs.Length - offset;
        if (offset < 0 || offset + length > fs.Length)
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' is too short (needs bytes {offset}..{offset + length}, has {fs.Length})");
        var buffer = new byte[length];
        fs.Seek(offset, SeekOrigin.Begin);
        fs.ReadExactly(buffer);
        return buffer;
    }
}
