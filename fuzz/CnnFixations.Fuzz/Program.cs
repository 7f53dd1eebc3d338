using CnnFixations.Fuzz;
using SharpFuzz;

// dotnet CnnFixations.Fuzz.dll TARGET                 run under afl-fuzz (input on standard input)
// dotnet CnnFixations.Fuzz.dll TARGET --replay FILE... run each file once and print what escaped
// dotnet CnnFixations.Fuzz.dll write-seeds DIR         write the extra ONNX seeds into DIR
if (args.Length == 2 && args[0] == "write-seeds")
{
    Seeds.Write(args[1]);
    return 0;
}
if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: CnnFixations.Fuzz {string.Join('|', Targets.All.Keys)} [--replay FILE...]");
    return 2;
}

if (args.Length > 1 && args[1] == "--replay")
{
    int escaped = 0;
    foreach (var file in args.Skip(2))
    {
        try
        {
            target(File.ReadAllBytes(file));
            Console.WriteLine($"ok       {file}");
        }
        catch (Exception e)
        {
            escaped++;
            Console.WriteLine($"ESCAPED  {file}: {e.GetType().FullName}: {e.Message.Split('\n')[0]}");
            Console.WriteLine("         at " + (e.StackTrace ?? "").Split('\n').FirstOrDefault()?.Trim());
        }
    }
    return escaped == 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var ms = new MemoryStream();
    stream.CopyTo(ms);
    target(ms.ToArray());
});
return 0;
