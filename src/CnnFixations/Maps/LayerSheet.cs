using CnnFixations.Imaging;
using SkiaSharp;

namespace CnnFixations.Maps;

/// <summary>
/// Per-layer fixation pictures: each layer's fixations, projected to the image through their
/// receptive-field centres, as red dots over a dimmed copy of the image; and a contact sheet of all
/// layers in walk order with their names, showing how the fixations narrow towards the image.
/// </summary>
public static class LayerSheet
{
    /// <summary>One tensor's fixations projected to the image.</summary>
    /// <param name="Name">The tensor.</param>
    /// <param name="Points">Its fixations' receptive-field centres in original-image pixels.</param>
    public sealed record Layer(string Name, IReadOnlyList<(int X, int Y)> Points);

    private static readonly Lazy<SKTypeface?> Typeface = new(FindTypeface);

    /// <summary>One layer's fixations over the dimmed image.</summary>
    public static byte[] LayerPng(RgbImage image, IReadOnlyList<(int X, int Y)> points)
    {
        using var bitmap = Dimmed(image);
        using (var canvas = new SKCanvas(bitmap))
            DrawDots(canvas, points, 1f, Math.Max(1.5f, Math.Min(image.Width, image.Height) / 150f));
        return Encode(bitmap);
    }

    /// <summary>A grid of thumbnails, one per layer, each captioned with the layer's name and fixation count.</summary>
    public static byte[] ContactSheetPng(RgbImage image, IReadOnlyList<Layer> layers, int tileWidth = 240)
    {
        if (layers.Count == 0) throw new CnnFixationsException("no layer to draw");
        float scale = (float)tileWidth / image.Width;
        int tileHeight = Math.Max(1, (int)Math.Round(image.Height * scale));
        const int caption = 28, gap = 6;
        int columns = Math.Min(layers.Count, 6);
        int rows = (layers.Count + columns - 1) / columns;
        int width = columns * (tileWidth + gap) + gap, height = rows * (tileHeight + caption + gap) + gap;
        using var sheet = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var dimmed = Dimmed(image);
        using var thumb = dimmed.Resize(new SKImageInfo(tileWidth, tileHeight, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var canvas = new SKCanvas(sheet);
        canvas.Clear(new SKColor(250, 250, 250));
        var typeface = Typeface.Value;
        using var font = typeface != null ? new SKFont(typeface, 12) : null;
        using var textPaint = new SKPaint { Color = new SKColor(20, 20, 20), IsAntialias = true };
        for (int i = 0; i < layers.Count; i++)
        {
            int left = gap + i % columns * (tileWidth + gap), top = gap + i / columns * (tileHeight + caption + gap);
            canvas.Save();
            canvas.Translate(left, top);
            using (var tile = SKImage.FromBitmap(thumb)) canvas.DrawImage(tile, 0, 0, new SKSamplingOptions(SKFilterMode.Nearest));
            DrawDots(canvas, layers[i].Points, scale, 3f);
            string text = $"{i + 1}. {layers[i].Name} ({layers[i].Points.Count})";
            if (font != null)
            {
                while (text.Length > 4 && font.MeasureText(text) > tileWidth) text = "…" + text[^(text.Length - 2)..];
                canvas.DrawText(text, 0, tileHeight + 16, SKTextAlign.Left, font, textPaint);
            }
            else DigitFont.Draw(canvas, i + 1, 2, tileHeight + 6, textPaint);
            canvas.Restore();
        }
        return Encode(sheet);
    }

    /// <summary>Overlays side by side, one per explanation method, each captioned with its name.</summary>
    public static byte[] MethodsPng(RgbImage image, IReadOnlyList<(string Name, byte[] OverlayPng)> overlays, int tileWidth = 320)
    {
        float scale = (float)tileWidth / image.Width;
        int tileHeight = Math.Max(1, (int)Math.Round(image.Height * scale));
        const int caption = 24, gap = 6;
        int width = overlays.Count * (tileWidth + gap) + gap, height = tileHeight + caption + 2 * gap;
        using var sheet = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(sheet);
        canvas.Clear(new SKColor(250, 250, 250));
        var typeface = Typeface.Value;
        using var font = typeface != null ? new SKFont(typeface, 14) : null;
        using var textPaint = new SKPaint { Color = new SKColor(20, 20, 20), IsAntialias = true };
        for (int i = 0; i < overlays.Count; i++)
        {
            using var tile = SKImage.FromEncodedData(overlays[i].OverlayPng);
            float left = gap + i * (tileWidth + gap);
            canvas.DrawImage(tile, new SKRect(left, gap, left + tileWidth, gap + tileHeight), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            if (font != null) canvas.DrawText(overlays[i].Name, left, gap + tileHeight + 17, SKTextAlign.Left, font, textPaint);
            else DigitFont.Draw(canvas, i + 1, left, gap + tileHeight + 5, textPaint);
        }
        return Encode(sheet);
    }

    private static SKBitmap Dimmed(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        var src = image.Pixels;
        for (int i = 0, n = image.Width * image.Height; i < n; i++)
        {
            for (int c = 0; c < 3; c++) rgba[4 * i + c] = (byte)(src[3 * i + c] * 2 / 5 + 60);
            rgba[4 * i + 3] = 255;
        }
        return bitmap;
    }

    private static void DrawDots(SKCanvas canvas, IReadOnlyList<(int X, int Y)> points, float scale, float radius)
    {
        using var fill = new SKPaint { Color = new SKColor(255, 40, 40), IsAntialias = true, Style = SKPaintStyle.Fill };
        foreach (var (x, y) in points.Distinct())
            canvas.DrawCircle((x + 0.5f) * scale, (y + 0.5f) * scale, radius, fill);
    }

    private static byte[] Encode(SKBitmap bitmap) =>
        bitmap.ColorType == SKColorType.Rgba8888
            ? PngWriter.Encode(bitmap.GetPixelSpan(), bitmap.Width, bitmap.Height, bitmap.RowBytes, 4)
            : throw new CnnFixationsException($"cannot encode pixels of type {bitmap.ColorType} as PNG");

    /// <summary>A TrueType font of the machine, if any (the product ships none); captions fall back to tile numbers.</summary>
    private static SKTypeface? FindTypeface()
    {
        foreach (var dir in new[] { "/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", @"C:\Windows\Fonts" })
        {
            if (!Directory.Exists(dir)) continue;
            var files = Directory.EnumerateFiles(dir, "*.ttf", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            var preferred = files.FirstOrDefault(f => Path.GetFileName(f) is "DejaVuSans.ttf" or "LiberationSans-Regular.ttf" or "Arial.ttf") ?? files.FirstOrDefault();
            if (preferred != null && SKTypeface.FromFile(preferred) is { } typeface) return typeface;
        }
        return null;
    }

    /// <summary>Digits drawn as 3x5 pixel blocks, for captions on machines without fonts.</summary>
    private static class DigitFont
    {
        private static readonly string[] Glyphs =
        {
            "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
            "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111",
        };

        public static void Draw(SKCanvas canvas, int number, float x, float y, SKPaint paint)
        {
            const float cell = 3f;
            foreach (char ch in number.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                string glyph = Glyphs[ch - '0'];
                for (int i = 0; i < 15; i++)
                    if (glyph[i] == '1') canvas.DrawRect(x + i % 3 * cell, y + i / 3 * cell, cell, cell, paint);
                x += 4 * cell;
            }
        }
    }
}
