using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CnnFixations.Onnx.Proto;

namespace CnnFixations.Onnx;

/// <summary>Reads the values of a TensorProto: raw_data, typed data fields, or external data files.</summary>
internal static class TensorProtoReader
{
    /// <summary>The declared shape of a tensor.</summary>
    public static int[] Shape(TensorProto t)
    {
        int[] shape = new int[t.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw new CnnFixationsException($"tensor '{t.Name}' has an invalid dimension {d}");
            shape[i] = (int)d;
        }
        return shape;
    }

    /// <summary>Checks, without copying anything, that an in-file raw_data holds as many bytes as the shape needs (the rest is checked by <see cref="Read"/>).</summary>
    public static void CheckSize(TensorProto t)
    {
        long count = Shapes.ElementCount(Shape(t));
        if (count > int.MaxValue) throw new CnnFixationsException($"tensor '{t.Name}' is too large ({count} elements)");
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.RawData.IsEmpty) return;
        int size = (TensorProto.Types.DataType)t.DataType switch
        {
            TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 => 4,
            TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 => 8,
            TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 or TensorProto.Types.DataType.Float16 => 2,
            TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool or TensorProto.Types.DataType.Int8 => 1,
            _ => 0,
        };
        if (size == 0) return; // an unsupported type: Read names it
        if ((long)t.RawData.Length != count * size)
            throw new CnnFixationsException($"tensor '{t.Name}' has {t.RawData.Length} bytes of data, expected {count * size}");
    }

    public static ConstTensor Read(TensorProto t, string? modelDirectory)
    {
        int[] shape = Shape(t);
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

    /// <summary>Where an externally stored tensor's bytes are: a file beside the model, an offset and a length (-1: to the end).</summary>
    internal readonly record struct ExternalLocation(string Location, long Offset, long Length);

    /// <summary>Reads and checks a tensor's external_data entries (location, offset, length).</summary>
    internal static ExternalLocation ParseExternal(TensorProto t)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = ParseNonNegative(t, "offset", e.Value); break;
                case "length": length = ParseNonNegative(t, "length", e.Value); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new CnnFixationsException($"tensor '{t.Name}' is stored externally but names no file");
        return new ExternalLocation(location, offset, length);
    }

    private static long ParseNonNegative(TensorProto t, string key, string value)
    {
        if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v))
            throw new CnnFixationsException($"tensor '{t.Name}': external data {key} '{value}' is not a non-negative integer");
        return v;
    }

    /// <summary>
    /// The full path of the tensor's external data file, checked to lie inside the model's folder and
    /// to exist and hold the bytes the tensor names; nothing is read.
    /// </summary>
    internal static (string Path, long Offset, long Length) ResolveExternal(TensorProto t, string? modelDirectory)
    {
        var (location, offset, length) = ParseExternal(t);
        if (modelDirectory == null)
            throw new CnnFixationsException($"tensor '{t.Name}' is stored in external file '{location}', but the model was not loaded from a file");
        string dir = Path.GetFullPath(modelDirectory);
        string path;
        try
        {
            path = Path.GetFullPath(Path.Combine(dir, location));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CnnFixationsException($"tensor '{t.Name}': external data file name '{location}' is not a valid path", e);
        }
        if (Path.IsPathRooted(location) || !path.StartsWith(dir.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' lies outside the model's folder");
        if (!File.Exists(path))
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' not found next to the model (in {dir})");
        long fileLength = new FileInfo(path).Length;
        if (length < 0) length = Math.Max(fileLength - offset, 0);
        if (offset > fileLength || length > fileLength - offset)
            throw new CnnFixationsException($"tensor '{t.Name}': external data file '{location}' is too short (the tensor needs bytes {offset}..{offset + length}, the file has {fileLength})");
        if (length > Array.MaxLength)
            throw new CnnFixationsException($"tensor '{t.Name}': {length} bytes of external data is too large to load");
        return (path, offset, length);
    }

    private static byte[] ReadExternal(TensorProto t, string? modelDirectory)
    {
        var (path, offset, length) = ResolveExternal(t, modelDirectory);
        try
        {
            using var fs = File.OpenRead(path);
            var buffer = new byte[length];
            fs.Seek(offset, SeekOrigin.Begin);
            fs.ReadExactly(buffer);
            return buffer;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            throw new CnnFixationsException($"tensor '{t.Name}': cannot read external data file '{Path.GetFileName(path)}': {e.Message}", e);
        }
    }
}
