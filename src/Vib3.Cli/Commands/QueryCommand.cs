using System.CommandLine;
using Spectre.Console;
using Vib3.Core;
using Vib3.Engine;

namespace Vib3.Cli.Commands;

/// <summary>vib3 query "&lt;statements&gt;" | -f file.sql [--format table|csv|json]: runs vib3 statements in one session
/// and prints each result. Streamed GENERATE rows are printed as they arrive. Exit code 1 on the first error.</summary>
internal static class QueryCommand
{
    public static Command Create(IAnsiConsole console, TextWriter output)
    {
        var sql = new Argument<string?>("sql") { Description = "Statements, separated by ';'", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file", "-f") { Description = "Read the statements from a file" };
        var format = new Option<string>("--format") { Description = "table (default), csv or json", DefaultValueFactory = _ => "table" };
        var command = new Command("query", "Run vib3 statements (GENERATE, EXPLAIN, SHOW, SET, CREATE/DROP MODEL ...)") { sql, file, format };
        command.SetAction(async (r, ct) =>
        {
            var text = r.GetValue(file) is { } path
                ? File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: no such file")
                : r.GetValue(sql) ?? throw new Vib3Exception(SqlState.InvalidParameterValue, "give statements as an argument or with -f FILE");
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
}
