using System.Diagnostics;
using Spectre.Console;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Query;

namespace Vib3.Cli.Commands;

/// <summary>The interactive shell: statements may span lines and run at ';' (prompt "vib3=>", continuation
/// "vib3->"); backslash commands act at once; every statement is appended to a history file; an error is printed
/// and the shell goes on; Ctrl-C cancels the running statement, not the shell. Reads any TextReader, so a
/// redirected stdin (or a test) drives it the same way a terminal does.</summary>
internal sealed class Repl(Session session, TextReader input, TextWriter output, IAnsiConsole console, string? historyPath)
{
    private CancellationTokenSource? _running;
    private bool _timing;
    private bool _expanded;
    private string _format = "table";

    /// <summary>Cancels the statement in progress (Ctrl-C); returns false if none is running.</summary>
    public bool CancelCurrent()
    {
        var running = Volatile.Read(ref _running);
        if (running is null) return false;
        running.Cancel();
        return true;
    }

    public async Task<int> RunAsync()
    {
        await output.WriteLineAsync("vib3 — type \\? for help, \\q to quit. Statements end with ';'.");
        var buffer = new System.Text.StringBuilder();
        while (true)
        {
            await output.WriteAsync(buffer.Length == 0 ? "vib3=> " : "vib3-> ");
            await output.FlushAsync();
            var line = await input.ReadLineAsync();
            if (line is null) break; // end of input
            if (buffer.Length == 0 && line.TrimStart().StartsWith('\\'))
            {
                if (!await BackslashAsync(line.Trim())) break;
                continue;
            }
            buffer.AppendLine(line);
            var text = buffer.ToString();
            if (!StatementCompleteness.EndsStatement(text)) continue;
            buffer.Clear();
            AppendHistory(text);
            await ExecuteAsync(text);
        }
        return 0;
    }

    private async Task ExecuteAsync(string sql)
    {
        using var cancel = new CancellationTokenSource();
        Volatile.Write(ref _running, cancel);
        var clock = Stopwatch.StartNew();
        try
        {
            await foreach (var result in session.ExecuteAsync(sql, ct: cancel.Token))
                await ResultPrinter.PrintAsync(result, _format, console, output, cancel.Token, _expanded);
        }
        catch (Vib3Exception e)
        {
            await output.WriteLineAsync($"ERROR: {e.Message} [SQLSTATE {e.SqlState}]");
        }
        catch (OperationCanceledException)
        {
            await output.WriteLineAsync($"ERROR: canceling statement due to user request [SQLSTATE {SqlState.QueryCanceled}]");
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            await output.WriteLineAsync($"ERROR: {e.Message}");
        }
        finally
        {
            Volatile.Write(ref _running, null);
        }
        if (_timing) await output.WriteLineAsync(FormattableString.Invariant($"Time: {clock.Elapsed.TotalMilliseconds:0.000} ms"));
    }

    /// <summary>Runs a backslash command; false means quit.</summary>
    private async Task<bool> BackslashAsync(string command)
    {
        var parts = command.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (parts[0])
        {
            case "\\q":
                return false;
            case "\\?":
                await output.WriteLineAsync(
                    "\\q quit · \\timing toggle timing · \\x toggle expanded display · \\models list models · " +
                    "\\format table|csv|json · statements: GENERATE, EXPLAIN [ANALYZE], SHOW, SELECT, SET, USE/CREATE/DROP MODEL");
                return true;
            case "\\timing":
                _timing = !_timing;
                await output.WriteLineAsync($"Timing is {(_timing ? "on" : "off")}.");
                return true;
            case "\\x":
                _expanded = !_expanded;
                await output.WriteLineAsync($"Expanded display is {(_expanded ? "on" : "off")}.");
                return true;
            case "\\models":
                await ExecuteAsync("SHOW MODELS;");
                return true;
            case "\\format" when parts.Length == 2 && parts[1] is "table" or "aligned" or "csv" or "json":
                _format = parts[1] == "aligned" ? "table" : parts[1];
                await output.WriteLineAsync($"Output format is {_format}.");
                return true;
            default:
                await output.WriteLineAsync($"invalid command {command}; try \\?");
                return true;
        }
    }

    private void AppendHistory(string statement)
    {
        if (historyPath is null) return;
        try { File.AppendAllText(historyPath, statement.TrimEnd() + Environment.NewLine); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* history is a convenience */ }
    }
}
