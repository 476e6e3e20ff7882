using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Vib3.Engine;

namespace Vib3.Cli.Commands;

/// <summary>Prints statement results for `vib3 query` and the REPL: aligned tables (or one column per line with
/// expanded display), csv, or one JSON object per statement. Streamed GENERATE rows are written as they arrive.</summary>
internal static class ResultPrinter
{
    public static async Task PrintAsync(StatementResult result, string format, IAnsiConsole console, TextWriter output, CancellationToken ct, bool expanded = false)
    {
        if (!result.ReturnsRows)
        {
            if (format == "json") await output.WriteLineAsync(JsonSerializer.Serialize(new { command = result.CommandTag }));
            else await output.WriteLineAsync(result.CommandTag);
            return;
        }
        if (format == "table" && result.Columns is [{ Name: "token" }])
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var pieces = 0;
            await foreach (var row in result.Rows.WithCancellation(ct))
            {
                await output.WriteAsync((string?)row[0]);
                await output.FlushAsync(ct);
                pieces++;
            }
            await output.WriteLineAsync();
            await output.WriteLineAsync(FormattableString.Invariant(
                $"({pieces} pieces in {clock.Elapsed.TotalSeconds:0.00} s, {(clock.Elapsed.TotalSeconds > 0 ? pieces / clock.Elapsed.TotalSeconds : 0):0.0}/s)"));
            return;
        }
        var rows = new List<object?[]>();
        await foreach (var row in result.Rows.WithCancellation(ct)) rows.Add(row);
        switch (format)
        {
            case "csv":
                await output.WriteLineAsync(string.Join(",", result.Columns.Select(c => Csv(c.Name))));
                foreach (var row in rows) await output.WriteLineAsync(string.Join(",", row.Select(v => Csv(Text(v)))));
                break;
            case "json":
                await output.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    command = result.CommandTag,
                    columns = result.Columns.Select(c => c.Name),
                    rows,
                }));
                break;
            default:
                if (expanded)
                {
                    for (var i = 0; i < rows.Count; i++)
                    {
                        await output.WriteLineAsync($"-[ RECORD {i + 1} ]");
                        for (var c = 0; c < result.Columns.Count; c++)
                            await output.WriteLineAsync($"{result.Columns[c].Name} | {Text(rows[i][c])}");
                    }
                    break;
                }
                var table = new Table();
                foreach (var c in result.Columns) table.AddColumn(Markup.Escape(c.Name));
                foreach (var row in rows) table.AddRow(row.Select(v => Markup.Escape(Text(v))).ToArray());
                console.Write(table);
                await output.WriteLineAsync($"({rows.Count} row{(rows.Count == 1 ? "" : "s")})");
                break;
        }
    }

    private static string Text(object? v) => v switch
    {
        null => "",
        bool b => b ? "t" : "f",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static string Csv(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
