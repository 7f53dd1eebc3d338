using System.Globalization;

namespace CnnFixations.Bench;

internal sealed record BenchArguments(string? ModelsDir, string? Json, int Iterations, string? SingleModel, string Image, string BundledModel)
{
    public static BenchArguments Parse(string[] args)
    {
        string root = FindRoot();
        string? models = null, json = null, single = null;
        string image = Path.Combine(root, "samples", "cat.png");
        int iterations = 10;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--models": models = Next(); break;
                case "--json": json = Next(); break;
                case "--iterations": iterations = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--single": single = Next(); break;
                case "--image": image = Next(); break;
                default: throw new ArgumentException($"unknown argument {args[i]} (use --models DIR --json FILE [--iterations N] [--image FILE])");
            }
        }
        return new BenchArguments(models, json, Math.Max(iterations, 3), single, image, Path.Combine(root, "models", "mobilenet_v2_1.0_224_quant.qdq.onnx"));
    }

    private static string FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "CnnFixations.sln"))) dir = dir.Parent;
            if (dir != null) return dir.FullName;
        }
        throw new InvalidOperationException("run the benchmark from inside the repository");
    }
}
