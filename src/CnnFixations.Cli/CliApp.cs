using System.CommandLine;

namespace CnnFixations.Cli;

/// <summary>The <c>cnn-fixations</c> command line: exit code 0 on success, 1 on a failure, 2 on a usage error.</summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(
            "CNN Fixations: explains why a convolutional network classified an image as it did, by walking the " +
            "forward pass back from the class logit to the input pixels that caused it (Mopuri, Garg, Babu, IEEE TIP 2019). " +
            "No gradients, no sampling.");
        root.Subcommands.Add(ExplainCommand.Create(stdout, stderr));
        root.Subcommands.Add(InspectCommand.Create(stdout, stderr));
        root.Subcommands.Add(EvaluateCommand.Create(stdout, stderr));
        root.Subcommands.Add(MergeCommand.Create(stdout, stderr));
        root.Subcommands.Add(CaptionCommand.Create(stdout, stderr));
        root.Subcommands.Add(CollagesCommand.Create(stdout, stderr));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine("Run 'cnn-fixations --help' or 'cnn-fixations explain --help' for usage.");
            return Usage;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Usage;
        }
        catch (CnnFixationsException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failure;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug, not bad input: still one line and a failure code, never a stack trace.
            stderr.WriteLine($"error: internal error ({e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}); please report it with the command that caused it");
            return Failure;
        }
    }
}

/// <summary>Options that are wrong together or out of range: exit code 2.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
}
