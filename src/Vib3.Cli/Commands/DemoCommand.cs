using System.CommandLine;
using Spectre.Console;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage.Catalog;

namespace Vib3.Cli.Commands;

/// <summary>vib3 demo: converts the embedded default model (vib3-moe, a small MoE vib3 trained on .NET documentation
/// prose; catalog/models/vib3-moe) into the store if it is absent, retrieval-ready (one neuron a page, and the index's
/// neuron keys, calibrated), then runs statements through the engine, as every front end does: a streamed GENERATE, EXPLAIN
/// ANALYZE of the same prompt USING RETRIEVAL (the bytes it read against exact routing's), what that saving costs in
/// perplexity on held-out text, and SHOW TIERS — what the RAM and disk tiers did.</summary>
internal static class DemoCommand
{
    public const string ModelName = "vib3-moe";

    /// <summary>The default model is stored one neuron a page: on vib3-moe paging inside the router's experts pays
    /// only at this size (docs/retrieval.md's ceiling: keeping half the pages costs +1.2 % perplexity at one neuron a
    /// page, +10 % at four), and it is what makes USING RETRIEVAL save bytes on the model everyone runs first.</summary>
    public const int PageRows = 1;

    private const string Prompt = "Gets or sets a value that indicates whether";

    /// <summary>The text the demo scores both routings on: the first 8 KB of the held-out split, documents the model
    /// never trained on, which travel with the model (its README says how they were chosen).</summary>
    private const string HeldOutFile = "heldout-sample.txt";

    public static Command Create(IAnsiConsole console, TextWriter output)
    {
        var command = new Command("demo", "Install the embedded default model if absent (retrieval-ready) and run it");
        command.SetAction(async (r, ct) =>
        {
            var budget = GlobalOptions.RamBudgetBytes(r);
            var catalog = GlobalOptions.Catalog(r);
            if (!catalog.Exists(ModelName)) Install(console, catalog, budget);
            console.WriteLine();
            await using var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, catalog.DataDir));
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            if (!PageIndexFolder.Exists(catalog.ModelDir(ModelName))) await IndexAsync(console, session, ct);
            await GenerateAsync(console, session, ct);
            console.WriteLine();
            await ExplainAnalyzeAsync(console, session, ct);
            console.WriteLine();
            await QualityAsync(console, engine, ct);
            console.WriteLine();
            await ShowTiersAsync(console, output, session, ct);
            return 0;
        });
        return command;
    }

    /// <summary>The model's Hugging Face folder travels with the binary (catalog/models/vib3-moe).</summary>
    private static string Source => Path.Combine(AppContext.BaseDirectory, "catalog", "models", ModelName);

    private static void Install(IAnsiConsole console, ModelCatalog catalog, long budget)
    {
        if (!Directory.Exists(Source))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{Source}: the embedded default model is missing (broken install?)");
        console.MarkupLine($"[grey]installing the default model from {Markup.Escape(Source)}, one neuron a page[/]");
        ConvertCommand.Run(console, new ModelConverter(catalog, DescriptorCatalog.LoadDefault()),
            new ConversionRequest(Source, ModelName, PageRows: PageRows, RamBudgetBytes: budget));
    }

    /// <summary>The text USING RETRIEVAL is calibrated on: the first 10 KB of the training split (2,307 tokens), which
    /// travel with the model.</summary>
    private const string CalibrationFile = "calibration-sample.txt";

    /// <summary>The page index with its neuron keys (CREATE INDEX's defaults), calibrated on the model's sample of its
    /// training text, for USING RETRIEVAL; built once, on the first demo, or on a store installed before the index was
    /// part of it.</summary>
    private static async Task IndexAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var calibration = Path.Combine(Source, CalibrationFile).Replace("'", "''", StringComparison.Ordinal);
        var sql = $"CREATE INDEX ON MODEL {ModelName} WITH (calibration = '{calibration}')";
        console.MarkupLine($"[grey]vib3> {Markup.Escape(sql)}[/]");
        await foreach (var result in session.ExecuteAsync(sql, ct: ct))
            await foreach (var _ in result.Rows.WithCancellation(ct)) { }
        console.WriteLine();
    }

    /// <summary>A sampled continuation, streamed token by token as GENERATE ... STREAM delivers it.</summary>
    private static async Task GenerateAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var sql = $"GENERATE '{Prompt}' FROM MODEL {ModelName} MAX_TOKENS 48 TEMPERATURE 0.8 TOP_P 0.95 SEED 42 STREAM";
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

    /// <summary>EXPLAIN ANALYZE of the prompt USING RETRIEVAL: each Experts node says what a token's row read (pages
    /// and neuron keys) beside what exact routing reads.</summary>
    private static async Task ExplainAnalyzeAsync(IAnsiConsole console, Engine.Session session, CancellationToken ct)
    {
        var sql = $"EXPLAIN ANALYZE GENERATE '{Prompt}' FROM MODEL {ModelName} USING RETRIEVAL MAX_TOKENS 24";
        console.MarkupLine($"[grey]vib3> {Markup.Escape(sql)}[/]");
        await foreach (var result in session.ExecuteAsync(sql, ct: ct))
            await foreach (var row in result.Rows.WithCancellation(ct))
                console.WriteLine((string)row[0]!);
    }

    /// <summary>What USING RETRIEVAL's saving costs: the held-out sample scored with exact routing and with router-first
    /// retrieval (as vib3 perplexity --using ... --kl-against ROUTER does), expert bytes a token beside perplexity.</summary>
    private static async Task QualityAsync(IAnsiConsole console, Vib3Engine engine, CancellationToken ct)
    {
        var sample = Path.Combine(Source, HeldOutFile);
        console.MarkupLine($"[grey]vib3 perplexity --model {ModelName} --file {Markup.Escape(sample)} --using ROUTER, then --using RETRIEVAL --kl-against ROUTER[/]");
        var text = await File.ReadAllTextAsync(sample, ct);
        var router = engine.Plan(PerplexityCommand.Statement(ModelName, "ROUTER", "demo"));
        var exact = await engine.Generations.PerplexityAsync(router, null, text, null, null, ct);
        var inside = await engine.Generations.PerplexityAsync(engine.Plan(PerplexityCommand.Statement(ModelName, "RETRIEVAL", "demo")), router, text, null, null, ct);
        var table = new Table().AddColumns("routing", "expert bytes a token", "perplexity", "KL vs exact", "top-1 agreement");
        table.AddRow("USING ROUTER", ByteSize.Format((long)exact.ExpertBytesPerToken), $"{exact.Perplexity:0.00}", "", "");
        table.AddRow("USING RETRIEVAL", $"{ByteSize.Format((long)inside.ExpertBytesPerToken)} ({inside.ExpertBytesPerToken / exact.ExpertBytesPerToken - 1:+0%;-0%})",
            $"{inside.Perplexity:0.00} ({inside.Perplexity / exact.Perplexity - 1:+0.0%;-0.0%})", $"{inside.Kl:0.0000}", $"{inside.Top1Agreement:0.0%}");
        console.Write(table);
        console.MarkupLine($"[grey]{exact.Tokens} held-out tokens, scored as one text in windows of 512 (vib3 perplexity's reading: harder than " +
                           "the model card's figure, which frames each document as training did); USING RETRIEVAL's bytes include the neuron keys it scores.[/]");
    }
}
