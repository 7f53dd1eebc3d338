using System.CommandLine;
using CnnFixations.Cli;

return CliApp.Run(args, Console.Out, Console.Error);
