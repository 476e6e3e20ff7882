using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Cli.Commands;

/// <summary>vib3 demo: converts the embedded default model (vib3-moe, a small MoE vib3 trained on .NET
/// documentation prose; catalog/models/vib3-moe) into the store if it is absent, walks its pages through the store
/// under the RAM budget showing what the tiers did, then generates text and runs EXPLAIN ANALYZE through the engine,
/// as every front end does.</summary>
internal static class DemoCommand
{
    public const string ModelName = "vib3-moe";

    private const string Prompt = "Gets or sets a value that indicates whether";

    public static Command Create(IAnsiConsole console)
    {
        var command = new Command("demo", "Install the embedded default model if absent and run it");
        command.SetAction(async (r, ct) =>
        {
            var budget = GlobalOptions.RamBudgetBytes(r);
            var catalog = GlobalOptions.Catalog(r);
            if (!catalog.Exists(ModelName)) Install(console, catalog, budget);
            console.WriteLine();
            await WalkAsync(console, catalog, budget, ct);
            console.WriteLine();
            await using var engine = new Vib3Engine(new EngineOptions(catalog.DataDir, budget));
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            await GenerateAsync(console, session, ct);
            console.WriteLine();
            await ExplainAnalyzeAsync(console, session, ct);
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

    /// <summary>Reads every page twice under the budget: the first pass comes from disk, the second hits RAM
    /// for whatever the budget could keep.</summary>
    private static async Task WalkAsync(IAnsiConsole console, ModelCatalog catalog, long budget, CancellationToken ct)
    {
        using var model = StoredModel.Open(catalog, ModelName, new PageStoreOptions { RamBudgetBytes = budget });
        var m = model.Manifest;
        console.MarkupLineInterpolated($"[bold]{m.Name}[/]: {m.Family}, {m.Hyper.Layers} layers, {m.Hyper.Experts} experts top-{m.Hyper.TopK}, {m.DType}, {m.PageCount} pages ({ByteSize.Format(m.PageBytes)}), RAM budget {ByteSize.Format(budget)}");
        var table = new Table().AddColumns("pass", "seconds", "MB/s", "hits", "misses", "joined", "read from disk", "evictions", "waits for room", "resident");
        var pages = Enumerable.Range(0, model.Store.PageCount).ToList();
        for (var pass = 1; pass <= 2; pass++)
        {
            var before = model.Store.Stats;
            var clock = Stopwatch.StartNew();
            await model.Store.ReadManyAsync(pages, (_, _) => ValueTask.CompletedTask, ct);
            var seconds = clock.Elapsed.TotalSeconds;
            var s = model.Store.Stats;
            table.AddRow(pass.ToString(), seconds.ToString("0.000"), (m.PageBytes / 1e6 / seconds).ToString("0"),
                (s.Hits - before.Hits).ToString(), (s.Misses - before.Misses).ToString(), (s.JoinedReads - before.JoinedReads).ToString(),
                ByteSize.Format(s.BytesRead - before.BytesRead), (s.Evictions - before.Evictions).ToString(),
                (s.BudgetWaits - before.BudgetWaits).ToString(), ByteSize.Format(s.ResidentBytes));
        }
        console.Write(table);
        console.MarkupLine("[grey]pages are checksummed on their way from disk.[/]");
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

    private static async Task ExplainAnalyzeAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var sql = $"EXPLAIN ANALYZE GENERATE '{Prompt}' FROM MODEL \"{ModelName}\" MAX_TOKENS 24";
        console.MarkupLine($"[grey]vib3> {Markup.Escape(sql)}[/]");
        await foreach (var result in session.ExecuteAsync(sql, ct: ct))
            await foreach (var row in result.Rows.WithCancellation(ct))
                console.WriteLine((string)row[0]!);
    }
}
