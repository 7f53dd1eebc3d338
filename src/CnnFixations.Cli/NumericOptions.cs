using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace CnnFixations.Cli;

/// <summary>
/// Numbers on the command line are read with the invariant culture, and a value that is not a number is
/// reported in the user's words ("--top-k expects a whole number, got 'abc'") instead of the parser's
/// type names.
/// </summary>
internal static class NumericOptions
{
    /// <summary>Gives every numeric option of <paramref name="command"/> and its subcommands a parser with a plain message.</summary>
    public static void Apply(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<int> o: o.CustomParser = r => Parse(r, o.Name, "a whole number", ParseInt) ?? 0; break;
                case Option<int?> o: o.CustomParser = r => Parse(r, o.Name, "a whole number", ParseInt); break;
                case Option<long> o: o.CustomParser = r => Parse(r, o.Name, "a whole number", ParseLong) ?? 0; break;
                case Option<long?> o: o.CustomParser = r => Parse(r, o.Name, "a whole number", ParseLong); break;
                case Option<double> o: o.CustomParser = r => Parse(r, o.Name, "a number such as 0.5", ParseDouble) ?? 0; break;
                case Option<double?> o: o.CustomParser = r => Parse(r, o.Name, "a number such as 0.5", ParseDouble); break;
                case Option<float> o: o.CustomParser = r => Parse(r, o.Name, "a number such as 0.5", ParseFloat) ?? 0; break;
                case Option<float?> o: o.CustomParser = r => Parse(r, o.Name, "a number such as 0.5", ParseFloat); break;
            }
        }
        foreach (var sub in command.Subcommands) Apply(sub);
    }

    private static T? Parse<T>(ArgumentResult result, string option, string expected, Func<string, T?> parse) where T : struct
    {
        if (result.Tokens.Count == 0)
        {
            result.AddError($"{option} expects {expected}");
            return null;
        }
        string text = result.Tokens[^1].Value;
        if (parse(text) is { } value) return value;
        result.AddError($"{option} expects {expected}, got '{text}'");
        return null;
    }

    private static int? ParseInt(string s) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
    private static long? ParseLong(string s) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : null;
    private static double? ParseDouble(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : null;
    private static float? ParseFloat(string s) => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : null;
}
