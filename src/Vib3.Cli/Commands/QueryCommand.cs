using System.CommandLine;
using Spectre.Console;
using Vib3.Core;
using Vib3.Engine;

namespace Vib3.Cli.Commands;

/// <summary>vib3 query "&lt;statements&gt;" | -f file.sql | - (or statements piped in) [--format table|csv|json]: runs vib3
/// statements in one session and prints each result. Streamed GENERATE rows are printed as they arrive. Exit code 1 on
/// the first error.</summary>
internal static class QueryCommand
{
    public static Command Create(IAnsiConsole console, TextReader input, TextWriter output)
    {
        var sql = new Argument<string?>("sql") { Description = "Statements, separated by ';' (- : read them from stdin)", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file", "-f") { Description = "Read the statements from a file (- : stdin)" };
        var format = new Option<string>("--format") { Description = "table (default), csv or json", DefaultValueFactory = _ => "table" };
        var command = new Command("query", "Run vib3 statements (GENERATE, EXPLAIN, SHOW, SET, CREATE/DROP MODEL ...), from the argument, a file or stdin")
        {
            sql, file, format,
        };
        command.SetAction(async (r, ct) =>
        {
            var text = await StatementsAsync(r.GetValue(sql), r.GetValue(file), input, ct);
            var fmt = r.GetValue(format)!;
            if (fmt is not ("table" or "csv" or "json"))
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"--format '{fmt}': use table, csv or json");
            var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, GlobalOptions.Catalog(r).DataDir));
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            session.Progress = r.InvocationConfiguration.Error.WriteLine; // stderr: stdout stays the results (csv / json)
            await foreach (var result in session.ExecuteAsync(text, ct: ct))
                await ResultPrinter.PrintAsync(result, fmt, console, output, ct);
            return 0;
        });
        return command;
    }

    /// <summary>The statements: the argument, the file, or stdin (asked for with "-", or piped in without either: a
    /// terminal gives no statements, so there it is an error naming the three ways).</summary>
    private static async Task<string> StatementsAsync(string? sql, string? file, TextReader input, CancellationToken ct)
    {
        if (file is not null && sql is not null)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "give statements as an argument or with -f FILE, not both");
        if (file is not null && file != "-")
            return File.Exists(file) ? await File.ReadAllTextAsync(file, ct) : throw new Vib3Exception(SqlState.UndefinedObject, $"{file}: no such file");
        if (sql is not null && sql != "-") return sql;
        if (sql is null && file is null && ReferenceEquals(input, Console.In) && !Console.IsInputRedirected)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "give statements as an argument, with -f FILE, or on stdin (vib3 query - < file.sql)");
        var text = await input.ReadToEndAsync(ct);
        return string.IsNullOrWhiteSpace(text) ? throw new Vib3Exception(SqlState.InvalidParameterValue, "no statements on stdin") : text;
    }
}
