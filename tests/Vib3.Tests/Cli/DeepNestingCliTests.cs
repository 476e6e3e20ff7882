using System.Diagnostics;

namespace Vib3.Tests.Cli;

/// <summary>Issue 16, finding 1: <c>vib3 query</c> with 4,000 nested parentheses died of a stack overflow (exit 134).
/// As a real process, so that a crash shows as one: it now exits 1 with one 54001 line.</summary>
public sealed class DeepNestingCliTests
{
    [Fact]
    public async Task Query_with_4000_nested_parentheses_exits_1_with_one_54001_line()
    {
        using var dir = new TempDir();
        var sql = "SELECT " + new string('(', 4_000) + "1" + new string(')', 4_000);
        var vib3 = typeof(Vib3.Cli.Vib3Cli).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", [vib3, "query", sql, "--data-dir", dir.Sub("data")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("vib3 query did not finish in 60 s");
        }

        Assert.Equal("", await output);
        // The 1,001st level starts at the 1,001st parenthesis, column 7 + 1,000 + 1.
        Assert.Equal("vib3: error: statement too complex at line 1:1008: expressions nest deeper than 1000 levels [SQLSTATE 54001]",
            (await error).TrimEnd('\n'));
        Assert.Equal(1, process.ExitCode);
    }
}
