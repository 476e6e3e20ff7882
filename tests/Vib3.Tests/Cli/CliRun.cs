using Vib3.Cli;

namespace Vib3.Tests.Cli;

/// <summary>Runs the vib3 command line in-process (the same code path as the binary) and captures its output.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error);

public static class CliRun
{
    public static CliResult Run(string dataDir, params string[] args) => RunWithInput(dataDir, "", args);

    /// <summary>Runs with <paramref name="stdin"/> as standard input (the REPL reads it as a terminal's lines).</summary>
    public static CliResult RunWithInput(string dataDir, string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Vib3Cli.Run([.. args, "--data-dir", dataDir], new StringReader(stdin), output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }
}
