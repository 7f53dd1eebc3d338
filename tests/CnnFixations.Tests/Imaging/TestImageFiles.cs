using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SkiaSharp;

namespace CnnFixations.Tests.Imaging;

/// <summary>Builds small image files for the tests: with SkiaSharp's encoders, or byte by byte.</summary>
internal static class TestImageFiles
{
    /// <summary>An opaque RGBA8888 bitmap filled by <paramref name="colour"/>(x, y) = (r, g, b).</summary>
    public static SKBitmap Bitmap(int width, int height, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var span = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = colour(x, y);
                int i = y * bitmap.RowBytes + 4 * x;
                span[i] = r; span[i + 1] = g; span[i + 2] = b; span[i + 3] = 255;
            }
        }
        return bitmap;
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 100)
    {
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    public static string Write(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>
    /// The JPEG with an APP1 Exif segment holding only the orientation tag, inserted after the SOI
    /// marker and any APP0 (JFIF) segment. The segment, little-endian TIFF:
    /// "Exif\0\0" | "II" 2A 00 | IFD offset 8 | 1 entry | tag 0112, type 3 (SHORT), count 1, value | next IFD 0.
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        var tiff = new byte[26];
        tiff[0] = (byte)'I'; tiff[1] = (byte)'I'; tiff[2] = 0x2A; tiff[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(4), 8);        // first IFD at offset 8
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(8), 1);        // one entry
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(10), 0x0112);  // Orientation
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(12), 3);       // SHORT
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(14), 1);       // count
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(18), (ushort)orientation);
        // bytes 20..21: padding of the value field; 22..25: no next IFD.
        var payload = Encoding.ASCII.GetBytes("Exif\0\0").Concat(tiff).ToArray(); // 32 bytes
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF; segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(2 + payload.Length)); // 34
        payload.CopyTo(segment, 4);

        Assert.True(jpeg[0] == 0xFF && jpeg[1] == 0xD8, "not a JPEG");
        int at = 2;
        if (jpeg[2] == 0xFF && jpeg[3] == 0xE0)
            at = 4 + BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(4));
        return jpeg[..at].Concat(segment).Concat(jpeg[at..]).ToArray();
    }

    /// <summary>
    /// A PNG written chunk by chunk: signature, IHDR, optional PLTE, one zlib IDAT holding the given
    /// scanlines (each prefixed with filter type 0), IEND.
    /// </summary>
    public static byte[] Png(int width, int height, int bitDepth, int colourType, byte[][] rows, byte[]? palette = null)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colourType;
        Chunk(ms, "IHDR", ihdr);
        if (palette is not null) Chunk(ms, "PLTE", palette);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                foreach (var row in rows)
                {
                    z.WriteByte(0);
                    z.Write(row);
                }
            }
            Chunk(ms, "IDAT", raw.ToArray());
        }
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)data.Length);
        Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        s.Write(head);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(head.AsSpan(4).ToArray().Concat(data).ToArray()));
        s.Write(crc);
    }

    /// <summary>The CRC-32 of PNG chunks (reflected polynomial 0xEDB88320), bit by bit.</summary>
    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>
    /// A 24-bit BMP: 14-byte file header, 40-byte BITMAPINFOHEADER, then rows bottom-up in B, G, R
    /// order, each padded to a multiple of 4 bytes.
    /// </summary>
    public static byte[] Bmp(int width, int height, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        int rowBytes = (3 * width + 3) / 4 * 4;
        int size = 54 + rowBytes * height;
        var b = new byte[size];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(26), 1);   // planes
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(28), 24);  // bits per pixel
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(34), (uint)(rowBytes * height));
        for (int y = 0; y < height; y++)
        {
            int row = 54 + (height - 1 - y) * rowBytes;
            for (int x = 0; x < width; x++)
            {
                var (r, g, bl) = colour(x, y);
                b[row + 3 * x] = bl; b[row + 3 * x + 1] = g; b[row + 3 * x + 2] = r;
            }
        }
        return b;
    }
}
