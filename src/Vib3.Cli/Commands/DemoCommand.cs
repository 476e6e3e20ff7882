using System.CommandLine;
using Spectre.Console;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage.Catalog;

namespace Vib3.Cli.Commands;

/// <summary>vib3 demo: converts the embedded default model (vib3-moe, a small MoE vib3 trained on .NET
/// documentation prose; catalog/models/vib3-moe) into the store if it is absent, then runs statements through the
/// engine, as every front end does: a streamed GENERATE, EXPLAIN ANALYZE of another, and SHOW TIERS — what the RAM and
/// disk tiers did for them under the RAM budget.</summary>
internal static class DemoCommand
{
    public const string ModelName = "vib3-moe";

    private const string Prompt = "Gets or sets a value that indicates whether";

    public static Command Create(IAnsiConsole console, TextWriter output)
    {
        var command = new Command("demo", "Install the embedded default model if absent and run it");
        command.SetAction(async (r, ct) =>
        {
            var budget = GlobalOptions.RamBudgetBytes(r);
            var catalog = GlobalOptions.Catalog(r);
            if (!catalog.Exists(ModelName)) Install(console, catalog, budget);
            console.WriteLine();
            await using var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, catalog.DataDir));
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            await GenerateAsync(console, session, ct);
            console.WriteLine();
            await ExplainAnalyzeAsync(console, session, ct);
            console.WriteLine();
            await ShowTiersAsync(console, output, session, ct);
            return 0;
        });
        return command;
    }

    /// <summary>The model's Hugging Face folder travels with the binary (catalog/models/vib3-moe).</summary>
    private static void Install(IAnsiConsole console, ModelCatalog catalog, long budget)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "catalog", "models", ModelName);
        if (!Directory.Exists(source))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{source}: the embedded default model is missing (broken install?)");
        console.MarkupLine($"[grey]installing the default model from {Markup.Escape(source)}[/]");
        ConvertCommand.Run(console, new ModelConverter(catalog, DescriptorCatalog.LoadDefault()),
            new ConversionRequest(source, ModelName, RamBudgetBytes: budget));
    }

    /// <summary>A sampled continuation, streamed token by token as GENERATE ... STREAM delivers it.</summary>
    private static async Task GenerateAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var sql = $"GENERATE '{Prompt}' FROM MODEL \"{ModelName}\" MAX_TOKENS 48 TEMPERATURE 0.8 TOP_P 0.95 SEED 42 STREAM";
        console.MarkupLine($"[grey]vib3> {Markup.Escape(sql)}[/]");
        console.Markup($"[bold]{Markup.Escape(Prompt)}[/]");
        await foreach (var result in session.ExecuteAsync(sql, ct: ct))
            await foreach (var row in result.Rows.WithCancellation(ct))
                console.Write(new Text((string)row[0]!));
        console.WriteLine();
    }

    /// <summary>The tiers' counters after both statements: pages found in RAM, read from disk, evicted, resident.</summary>
    private static async Task ShowTiersAsync(IAnsiConsole console, TextWriter output, Engine.Session session, CancellationToken ct)
    {
        const string Sql = "SHOW TIERS";
        console.MarkupLine($"[grey]vib3> {Sql}[/]");
        await foreach (var result in session.ExecuteAsync(Sql, ct: ct))
            await ResultPrinter.PrintAsync(result, "table", console, output, ct);
        console.MarkupLine("[grey]pages are checksummed on their way from disk.[/]");
    }

    private static async Task ExplainAnalyzeAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var sql = $"EXPLAIN ANALYZE GENERATE '{Prompt}' FROM MODEL \"{ModelName}\" MAX_TOKENS 24";
        console.MarkupLine($"[grey]vib3> {Markup.Escape(sql)}[/]");
        await foreach (var result in session.ExecuteAsync(sql, ct: ct))
            await foreach (var row in result.Rows.WithCancellation(ct))
                console.WriteLine((string)row[0]!);
    }
}
