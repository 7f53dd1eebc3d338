namespace CnnFixations.Maps;

/// <summary>The colour scales a heat map can be drawn with.</summary>
public enum ColormapKind
{
    /// <summary>The classic rainbow scale (the default, as in the paper's figures).</summary>
    Jet,
    /// <summary>Google's Turbo: a rainbow scale that is perceptually smoother than jet.</summary>
    Turbo,
    /// <summary>Matplotlib's viridis: perceptually uniform, readable in grayscale and by colour-blind readers.</summary>
    Viridis,
}

/// <summary>Colour scales for heat maps.</summary>
public static class Colormap
{
    /// <summary>The colour of <paramref name="v"/> (0..1; clamped, NaN is 0) on scale <paramref name="kind"/>.</summary>
    public static (byte R, byte G, byte B) Map(ColormapKind kind, float v) => kind switch
    {
        ColormapKind.Turbo => Turbo(v),
        ColormapKind.Viridis => Viridis(v),
        _ => Jet(v),
    };

    /// <summary>Parses "jet", "turbo" or "viridis" (any case); null for another name.</summary>
    public static ColormapKind? Parse(string name) => name.ToLowerInvariant() switch
    {
        "jet" => ColormapKind.Jet,
        "turbo" => ColormapKind.Turbo,
        "viridis" => ColormapKind.Viridis,
        _ => null,
    };

    /// <summary>
    /// Turbo by its published degree-5 polynomial approximation (Anton Mikhailov, Google, 2019), per channel;
    /// values outside [0, 1] are clamped, NaN is 0.
    /// </summary>
    public static (byte R, byte G, byte B) Turbo(float v)
    {
        double t = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
        double r = 0.13572138 + t * (4.61539260 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))));
        double g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))));
        double b = 0.10667330 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))));
        return (Byte(r), Byte(g), Byte(b));
    }

    /// <summary>
    /// Viridis by a degree-6 polynomial fit per channel (Matt Zucker, 2020; within a few levels of matplotlib's table);
    /// values outside [0, 1] are clamped, NaN is 0.
    /// </summary>
    public static (byte R, byte G, byte B) Viridis(float v)
    {
        double t = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
        double r = 0.2777273272234177 + t * (0.1050930431085774 + t * (-0.3308618287255563 + t * (-4.634230498983486 + t * (6.228269936347081 + t * (4.776384997670288 + t * -5.435455855934631)))));
        double g = 0.005407344544966578 + t * (1.404613529898575 + t * (0.214847559468213 + t * (-5.799100973351585 + t * (14.17993336680509 + t * (-13.74514537774601 + t * 4.645852612178535)))));
        double b = 0.3340998053353061 + t * (1.384590162594685 + t * (0.09509516302823659 + t * (-19.33244095627987 + t * (56.69055260068105 + t * (-65.35303263337234 + t * 26.3124352495832)))));
        return (Byte(r), Byte(g), Byte(b));
    }

    private static byte Byte(double c) => (byte)Math.Round(255 * Math.Clamp(c, 0, 1), MidpointRounding.AwayFromZero);

    /// <summary>
    /// The classic "jet" scale, piecewise linear: dark blue (0, 0, 128) at 0, blue at 1/8, cyan at 3/8,
    /// yellow at 5/8, red at 7/8, dark red (128, 0, 0) at 1. Values outside [0, 1] are clamped; NaN is 0.
    /// </summary>
    public static (byte R, byte G, byte B) Jet(float v)
    {
        double t = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
        return (Channel(t, 0.75), Channel(t, 0.5), Channel(t, 0.25));
    }

    /// <summary>A tent of height 1.5, clipped to [0, 1], centred on <paramref name="peak"/> and falling to 0 at 3/8 away.</summary>
    private static byte Channel(double t, double peak)
    {
        double c = Math.Clamp(1.5 - 4 * Math.Abs(t - peak), 0, 1);
        return (byte)Math.Round(255 * c, MidpointRounding.AwayFromZero);
    }
}
