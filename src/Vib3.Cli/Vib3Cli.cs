using System.CommandLine;
using Spectre.Console;
using Vib3.Cli.Commands;
using Vib3.Core;

namespace Vib3.Cli;

/// <summary>The `vib3` binary: one root command, one class per sub-command. Every failure a user can cause ends
/// as one line on stderr ("vib3: error: ... [SQLSTATE]") and a non-zero exit code, never a stack trace.</summary>
public static class Vib3Cli
{
    public const int ExitError = 1;

    /// <summary>`vib3 serve` refused an exposed configuration (beyond loopback with no password or key).</summary>
    public const int ExitRefused = 2;

    /// <summary>A command line that cannot work (<see cref="UsageException"/>): a port out of range, a bad address.</summary>
    public const int ExitUsage = 2;
    public const int ExitInternal = 70;

    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, Console.In, output, error);

    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        var terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 200; // tables in logs and pipes stay one row per line
        var root = new RootCommand("vib3: Mixture-of-Experts inference with the weights kept as pages in a tiered store")
        {
            GlobalOptions.DataDir,
            GlobalOptions.RamBudget,
            GlobalOptions.CachePolicy,
            GlobalOptions.Accelerator,
            GlobalOptions.VramBudget,
        };
        root.Subcommands.Add(ConvertCommand.Create(console));
        root.Subcommands.Add(ModelsCommand.Create(console));
        root.Subcommands.Add(ModelsCommand.CreateInfo(console));
        root.Subcommands.Add(ModelsCommand.CreateDrop(console));
        root.Subcommands.Add(DemoCommand.Create(console, output));
        root.Subcommands.Add(LogitsCommand.Create(output));
        root.Subcommands.Add(PerplexityCommand.Create(output));
        root.Subcommands.Add(GenerateCommand.Create(output, error));
        root.Subcommands.Add(BenchCommand.Create(output));
        root.Subcommands.Add(QueryCommand.Create(console, input, output));
        root.Subcommands.Add(ReplCommand.Create(console, input, output));
        var serve = ServeCommand.Create(output);
        root.Subcommands.Add(serve);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
        {
            var command = parsed.CommandResult.Command is RootCommand ? "" : " " + parsed.CommandResult.Command.Name;
            error.WriteLine($"vib3: error: {parsed.Errors[0].Message} (see: vib3{command} --help) [SQLSTATE {SqlState.SyntaxError}]");
            return ExitError;
        }
        try
        {
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
            // serve handles SIGINT/SIGTERM itself (ShutdownSignals): it drains for up to --shutdown-timeout, where
            // System.CommandLine's handler would return 130/143 after 2 s with the servers still stopping
            if (ReferenceEquals(parsed.CommandResult.Command, serve)) configuration.ProcessTerminationTimeout = null;
            return parsed.Invoke(configuration);
        }
        catch (UsageException e)
        {
            error.WriteLine($"vib3: error: {e.Message} [SQLSTATE {SqlState.InvalidParameterValue}]");
            return ExitUsage;
        }
        catch (Vib3Exception e)
        {
            error.WriteLine($"vib3: error: {e.Message} [SQLSTATE {e.SqlState}]");
            return ExitError;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine($"vib3: cancelled [SQLSTATE {SqlState.QueryCanceled}]");
            return ExitError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"vib3: error: {e.Message} [SQLSTATE {SqlState.IoError}]");
            return ExitError;
        }
        catch (Exception e)
        {
            error.WriteLine($"vib3: internal error: {e.GetType().Name}: {e.Message} [SQLSTATE {SqlState.InternalError}]");
            error.WriteLine(e.StackTrace);
            return ExitInternal;
        }
    }
}
