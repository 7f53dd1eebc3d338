using System.Text;

namespace CnnFixations.Imaging;

/// <summary>
/// Recognizes common image and document formats that the decoder does not read, by their leading
/// bytes, so that the error can name the format instead of calling the file corrupt.
/// </summary>
internal static class ImageFormatSniffer
{
    /// <summary>A description such as "a TIFF image" for a recognized unsupported format; null otherwise.</summary>
    public static string? UnsupportedFormat(ReadOnlySpan<byte> b)
    {
        if (StartsWith(b, [(byte)'I', (byte)'I', 42, 0]) || StartsWith(b, [(byte)'M', (byte)'M', 0, 42])) return "a TIFF image";
        if (StartsWith(b, "8BPS"u8)) return "a Photoshop (PSD) document";
        if (StartsWith(b, "%PDF"u8)) return "a PDF document";
        if (StartsWith(b, [0xFF, 0x0A]) || StartsWith(b, [0, 0, 0, 0x0C, (byte)'J', (byte)'X', (byte)'L', (byte)' ', 0x0D, 0x0A, 0x87, 0x0A]))
            return "a JPEG XL image";
        if (b.Length >= 12 && b[4..8].SequenceEqual("ftyp"u8))
        {
            string brand = Encoding.ASCII.GetString(b[8..12]);
            if (brand is "avif" or "avis") return "an AVIF image";
            if (brand is "heic" or "heix" or "hevc" or "heim" or "heis" or "mif1" or "msf1") return "a HEIF/HEIC image";
        }
        if (StartsWith(b, [0, 0, 0, 0x0C, (byte)'j', (byte)'P', (byte)' ', (byte)' '])) return "a JPEG 2000 image";
        if (b.Length >= 2 && b[0] == (byte)'P' && b[1] >= (byte)'1' && b[1] <= (byte)'7' && b.Length >= 3 && IsSpace(b[2]))
            return "a Netpbm (PBM/PGM/PPM) image";
        return null;
    }

    /// <summary>
    /// True when the bytes start like a format the decoder reads (PNG, JPEG, GIF, BMP, WebP, ICO, WBMP
    /// aside), so that a file the decoder finds too short is truncated rather than not an image at all.
    /// Works on any prefix of a signature.
    /// </summary>
    public static bool LooksSupported(ReadOnlySpan<byte> b)
    {
        static bool Prefix(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
        {
            int n = Math.Min(data.Length, signature.Length);
            return n > 0 && data[..n].SequenceEqual(signature[..n]);
        }
        if (Prefix(b, [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return true;
        if (Prefix(b, [0xFF, 0xD8, 0xFF])) return true;
        if (Prefix(b, "GIF8"u8)) return true;
        if (Prefix(b, "BM"u8)) return true;
        if (Prefix(b, "RIFF"u8) && (b.Length < 12 || b[8..12].SequenceEqual("WEBP"u8))) return true;
        return false;
    }

    private static bool StartsWith(ReadOnlySpan<byte> b, ReadOnlySpan<byte> prefix) => b.StartsWith(prefix);

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';
}
