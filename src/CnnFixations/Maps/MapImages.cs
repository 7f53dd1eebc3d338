using CnnFixations.Imaging;
using SkiaSharp;

namespace CnnFixations.Maps;

/// <summary>PNG renderings of heat maps: over the image, as grayscale, and plain images.</summary>
public static class MapImages
{
    private static readonly SKColor BoxColour = new(0, 230, 0);
    private static readonly SKColor OutlineColour = new(0, 0, 0);
    private static readonly SKColor PointColour = new(255, 255, 255);

    /// <summary>
    /// The image with colour(heat) blended over it (out = (1 - alpha) * image + alpha * colour; jet unless
    /// <paramref name="colormap"/> says otherwise), the box drawn as a green rectangle with a dark outline, each
    /// point as a white dot, and on images of at least <see cref="ColourBarMinSize"/> pixels each way a colour bar
    /// in the bottom-left corner (0 on the left, the map's maximum 1 on the right).
    /// </summary>
    public static byte[] OverlayPng(RgbImage image, float[] heat, int[]? box, IReadOnlyList<(int X, int Y)> points, double alpha = 0.5, ColormapKind colormap = ColormapKind.Jet)
    {
        using var bitmap = Overlay(image, heat, box, points, alpha, colormap);
        return Encode(bitmap);
    }

    /// <summary>Overlays smaller than this (width or height) get no colour bar: it would hide too much of them.</summary>
    public const int ColourBarMinSize = 64;

    /// <summary>The pixels of <see cref="OverlayPng"/> (opaque RGBA), before encoding.</summary>
    public static SKBitmap Overlay(RgbImage image, float[] heat, int[]? box, IReadOnlyList<(int X, int Y)> points, double alpha = 0.5, ColormapKind colormap = ColormapKind.Jet)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(heat);
        ArgumentNullException.ThrowIfNull(points);
        int w = image.Width, h = image.Height;
        if (heat.LongLength != (long)w * h)
            throw new CnnFixationsException($"the heat map has {heat.LongLength} values, the {w}x{h} image needs {(long)w * h}");
        if (box is not null && box.Length != 4)
            throw new CnnFixationsException($"a box needs 4 values [xmin, ymin, xmax, ymax], got {box.Length}");
        if (!(alpha >= 0 && alpha <= 1))
            throw new CnnFixationsException($"the overlay alpha must be in [0, 1], got {alpha}");

        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        var src = image.Pixels;
        var blend = BlendTable(alpha);
        var (r0, g0, b0) = Colormap.Map(colormap, 0f);
        for (int i = 0; i < heat.Length; i++)
        {
            // Most of an image is far from every fixation (heat 0): its colour is computed once.
            var (r, g, b) = heat[i] == 0f ? (r0, g0, b0) : Colormap.Map(colormap, heat[i]);
            rgba[4 * i] = blend[(src[3 * i] << 8) | r];
            rgba[4 * i + 1] = blend[(src[3 * i + 1] << 8) | g];
            rgba[4 * i + 2] = blend[(src[3 * i + 2] << 8) | b];
            rgba[4 * i + 3] = 255;
        }

        using (var canvas = new SKCanvas(bitmap))
        {
            float scale = Math.Min(w, h);
            DrawPoints(canvas, points, Math.Max(1f, MathF.Round(scale / 300f)));
            if (box is not null) DrawBox(canvas, box, Math.Max(2f, MathF.Round(scale / 200f)));
        }
        if (w >= ColourBarMinSize && h >= ColourBarMinSize) DrawColourBar(bitmap, colormap);
        return bitmap;
    }

    /// <summary>
    /// A legend in the bottom-left corner: a dark backing, "0", the scale from 0 to 1 left to right, "1"
    /// (digits as pixel blocks, so that every machine draws the same pixels).
    /// </summary>
    private static void DrawColourBar(SKBitmap bitmap, ColormapKind colormap)
    {
        int w = bitmap.Width, h = bitmap.Height, side = Math.Min(w, h);
        int margin = Math.Max(2, side / 100), cell = Math.Max(1, side / 200), pad = 2 * cell;
        int barHeight = 5 * cell, length = Math.Clamp(side / 4, 24, 256), digit = 3 * cell;
        int backWidth = pad + digit + pad + length + pad + digit + pad, backHeight = pad + barHeight + pad;
        int left = margin, top = h - margin - backHeight;
        var rgba = bitmap.GetPixelSpan();
        for (int y = top; y < top + backHeight; y++)
            for (int x = left; x < left + backWidth; x++) Set(rgba, w, x, y, (24, 24, 24));
        int barLeft = left + pad + digit + pad, barTop = top + pad;
        for (int x = 0; x < length; x++)
        {
            var c = Colormap.Map(colormap, length == 1 ? 0f : (float)x / (length - 1));
            for (int y = barTop; y < barTop + barHeight; y++) Set(rgba, w, barLeft + x, y, c);
        }
        DrawDigit(rgba, w, "111101101101111", left + pad, barTop, cell);              // 0
        DrawDigit(rgba, w, "010110010010111", barLeft + length + pad, barTop, cell);  // 1
    }

    private static void Set(Span<byte> rgba, int width, int x, int y, (byte R, byte G, byte B) c)
    {
        int i = 4 * (y * width + x);
        rgba[i] = c.R; rgba[i + 1] = c.G; rgba[i + 2] = c.B; rgba[i + 3] = 255;
    }

    /// <summary>A 3x5 glyph (row-major, '1' = lit) in white, each glyph pixel <paramref name="cell"/> pixels wide.</summary>
    private static void DrawDigit(Span<byte> rgba, int width, string glyph, int x0, int y0, int cell)
    {
        for (int i = 0; i < 15; i++)
            if (glyph[i] == '1')
                for (int dy = 0; dy < cell; dy++)
                    for (int dx = 0; dx < cell; dx++) Set(rgba, width, x0 + i % 3 * cell + dx, y0 + i / 3 * cell + dy, (255, 255, 255));
    }

    /// <summary><see cref="Blend"/> of every (image byte, colour byte) pair, at index image * 256 + colour.</summary>
    private static byte[] BlendTable(double alpha)
    {
        var cached = _blendTable;
        if (cached != null && cached.Alpha == alpha) return cached.Values;
        var values = new byte[256 * 256];
        for (int i = 0; i < 256; i++)
            for (int c = 0; c < 256; c++)
                values[(i << 8) | c] = Blend((byte)i, (byte)c, alpha);
        _blendTable = new BlendValues(alpha, values);
        return values;
    }

    private sealed record BlendValues(double Alpha, byte[] Values);
    private static BlendValues? _blendTable;

    /// <summary>An 8-bit grayscale PNG of a map in [0, 1] (values clamped): gray = round(255 * v).</summary>
    public static byte[] GrayPng(float[] heat, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(heat);
        if (width < 1 || height < 1 || heat.LongLength != (long)width * height)
            throw new CnnFixationsException($"a {width}x{height} grayscale map needs {(long)width * height} values, got {heat.LongLength}");
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var gray = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                float v = heat[y * width + x];
                double c = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
                gray[y * stride + x] = (byte)Math.Round(255 * c, MidpointRounding.AwayFromZero);
            }
        }
        return Encode(bitmap);
    }

    /// <summary>An opaque RGBA or gray bitmap (such as <see cref="Overlay"/> gives) as a PNG.</summary>
    public static byte[] EncodePng(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        return Encode(bitmap);
    }

    /// <summary>The image as an RGB PNG.</summary>
    public static byte[] EncodePng(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        var src = image.Pixels;
        for (int i = 0, n = image.Width * image.Height; i < n; i++)
        {
            rgba[4 * i] = src[3 * i];
            rgba[4 * i + 1] = src[3 * i + 1];
            rgba[4 * i + 2] = src[3 * i + 2];
            rgba[4 * i + 3] = 255;
        }
        return Encode(bitmap);
    }

    private static byte Blend(byte image, byte colour, double alpha) =>
        (byte)Math.Round((1 - alpha) * image + alpha * colour, MidpointRounding.AwayFromZero);

    /// <summary>Each distinct point as a filled square-free round dot of the given radius.</summary>
    private static void DrawPoints(SKCanvas canvas, IReadOnlyList<(int X, int Y)> points, float radius)
    {
        if (points.Count == 0) return;
        var centres = points.Distinct().Select(p => new SKPoint(p.X + 0.5f, p.Y + 0.5f)).ToArray();
        using var paint = new SKPaint
        {
            Color = PointColour,
            IsAntialias = false,
            Style = SKPaintStyle.Stroke,
            StrokeWidth = 2 * radius,
            StrokeCap = radius > 1 ? SKStrokeCap.Round : SKStrokeCap.Square,
        };
        canvas.DrawPoints(SKPointMode.Points, centres, paint);
    }

    /// <summary>The box's pixels outlined: a dark band under a green band of the given thickness, centred on the box edge pixels.</summary>
    private static void DrawBox(SKCanvas canvas, int[] box, float thickness)
    {
        var rect = new SKRect(box[0] + 0.5f, box[1] + 0.5f, box[2] + 0.5f, box[3] + 0.5f);
        using var paint = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Stroke, StrokeJoin = SKStrokeJoin.Miter };
        paint.Color = OutlineColour;
        paint.StrokeWidth = thickness + 2;
        canvas.DrawRect(rect, paint);
        paint.Color = BoxColour;
        paint.StrokeWidth = thickness;
        canvas.DrawRect(rect, paint);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        int channels = bitmap.ColorType switch
        {
            SKColorType.Rgba8888 => 4,
            SKColorType.Gray8 => 1,
            _ => throw new CnnFixationsException($"cannot encode pixels of type {bitmap.ColorType} as PNG"),
        };
        return PngWriter.Encode(bitmap.GetPixelSpan(), bitmap.Width, bitmap.Height, bitmap.RowBytes, channels);
    }
}
