using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace CnnFixations.Imaging;

/// <summary>Reads and writes numpy .npy arrays of float32 (reading also converts float64).</summary>
public static class NpyFile
{
    private static ReadOnlySpan<byte> Magic => new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };
    private const int Alignment = 64;

    /// <summary>Reads a little-endian float32 or float64, C-order array (format version 1.0, 2.0 or 3.0).</summary>
    public static (int[] Shape, float[] Data) ReadFloat32(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = ReadFile(path);
        var header = ReadHeader(bytes, path, out int dataStart);
        if (header.FortranOrder)
            throw new CnnFixationsException($"'{path}' holds a Fortran-order array; only C order is supported (save it with numpy.ascontiguousarray)");
        int itemSize = header.Descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new CnnFixationsException($"'{path}' holds dtype '{header.Descr}'; only little-endian float32 ('<f4') or float64 ('<f8') is supported"),
        };
        long count = 1;
        foreach (int d in header.Shape)
        {
            count *= d;
            if (count > Array.MaxLength)
                throw new CnnFixationsException($"'{path}' holds an array of shape ({string.Join(", ", header.Shape)}), too large to load");
        }
        long available = bytes.LongLength - dataStart;
        if (available != count * itemSize)
        {
            throw available < count * itemSize
                ? new CnnFixationsException($"'{path}' is truncated: shape ({string.Join(", ", header.Shape)}) needs {count * itemSize} data bytes, the file has {available}")
                : new CnnFixationsException($"'{path}' has {available - count * itemSize} bytes after the data of its shape ({string.Join(", ", header.Shape)}) array");
        }

        var data = new float[count];
        var raw = bytes.AsSpan(dataStart);
        if (itemSize == 4)
        {
            for (int i = 0; i < data.Length; i++)
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(4 * i, 4));
        }
        else
        {
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(8 * i, 8));
        }
        return (header.Shape, data);
    }

    /// <summary>
    /// Writes a format 1.0, little-endian float32, C-order array; the header is padded with spaces and
    /// ends in a newline so that the data starts at a multiple of 64 bytes.
    /// </summary>
    public static void WriteFloat32(Stream stream, int[] shape, ReadOnlySpan<float> data)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new CnnFixationsException($"cannot write a .npy array of shape ({string.Join(", ", shape)}): a dimension is negative");
            count *= d;
        }
        if (count != data.Length)
            throw new CnnFixationsException($"cannot write a .npy array of shape ({string.Join(", ", shape)}): it needs {count} values, got {data.Length}");

        string dict = new NpyHeader("<f4", false, shape).Format();
        int prefix = Magic.Length + 2 + 2;
        int total = (prefix + dict.Length + 1 + Alignment - 1) / Alignment * Alignment;
        int headerLength = total - prefix;
        if (headerLength > ushort.MaxValue)
            throw new CnnFixationsException($"cannot write a .npy array of shape ({string.Join(", ", shape)}): the header is too long for format 1.0");
        string header = dict.PadRight(headerLength - 1) + "\n";

        var head = new byte[total];
        Magic.CopyTo(head);
        head[6] = 1;
        head[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)headerLength);
        Encoding.ASCII.GetBytes(header, head.AsSpan(prefix));
        stream.Write(head);

        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }
        var buffer = new byte[4];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
            stream.Write(buffer);
        }
    }

    private static NpyHeader ReadHeader(byte[] bytes, string path, out int dataStart)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new CnnFixationsException($"'{path}' is not a .npy file: it does not start with the numpy magic bytes");
        int major = bytes[6];
        int lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw new CnnFixationsException($"'{path}' uses .npy format version {major}.{bytes[7]}; versions 1.0, 2.0 and 3.0 are supported"),
        };
        long headerLength = lengthBytes == 2
            ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))
            : bytes.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)) : long.MaxValue;
        long start = 8 + lengthBytes + headerLength;
        if (start > bytes.Length)
            throw new CnnFixationsException($"'{path}' is truncated: its header ends early");
        dataStart = (int)start;
        var encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        string text = encoding.GetString(bytes, 8 + lengthBytes, (int)headerLength);
        return NpyHeader.Parse(text, path);
    }

    private static byte[] ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new CnnFixationsException($"cannot read '{path}': the file does not exist");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            throw new CnnFixationsException($"cannot read '{path}': {e.Message}", e);
        }
    }
}
