using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace CnnFixations.Bench;

internal static class Report
{
    public static string Machine()
    {
        string cpu = "unknown CPU";
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line != null) cpu = line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return $"{cpu}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
    }

    public static string Table(IReadOnlyDictionary<string, ModelFigures> results)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"machine: {Machine()}");
        sb.AppendLine("| model | input | forward only ms (min-max) | + outputs | walk | post-process | PNG | explain | explain / forward | explain without PNG / forward | walk / forward | outputs cost | load / ORT session | Grad-CAM / forward | Gradient / forward | fixations | peak MB |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (name, f) in results)
        {
            double fwd = f.ForwardOnly!.MedianMs;
            string T(Timing? t) => t == null ? "-" : string.Format(inv, "{0:F1} ({1:F1}-{2:F1})", t.MedianMs, t.MinMs, t.MaxMs);
            string R(Timing? t) => t == null ? "-" : (t.MedianMs / fwd).ToString("F2", inv);
            sb.AppendLine(string.Format(inv, "| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} | {8:F3} | {9} | {10:F3} | {11:+0.0%;-0.0%} | {12:F2} | {13} | {14} | {15} | {16:F0} |",
                name, f.Input, T(f.ForwardOnly), T(f.ForwardWithOutputs), T(f.Walk), T(f.Postprocess), T(f.Encode), T(f.Explain),
                f.Explain!.MedianMs / fwd, R(f.ExplainWithoutPng), f.Walk!.MedianMs / fwd, f.ForwardWithOutputs!.MedianMs / fwd - 1, f.LoadMs / f.OrtSessionMs, R(f.GradCam), R(f.Gradient), f.Fixations, f.PeakMb));
        }
        return sb.ToString();
    }
}
