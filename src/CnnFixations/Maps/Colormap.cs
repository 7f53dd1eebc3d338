namespace CnnFixations.Maps;

/// <summary>Colour scales for heat maps.</summary>
public static class Colormap
{
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
