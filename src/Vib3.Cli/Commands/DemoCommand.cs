using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Models.Inference;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Cli.Commands;

/// <summary>vib3 demo: makes the default model if it is absent (a Mixtral-shaped synthetic checkpoint,
/// converted into the store), walks its pages through the store under the RAM budget showing what the tiers
/// did, then generates text from it. The weights are random until a trained default model ships, so the text
/// is noise; what the demo shows is the path a prompt takes.</summary>
internal static class DemoCommand
{
    public const string ModelName = "vib3-demo";

    private static readonly SyntheticModelSpec DemoSpec = new()
    {
        Family = ModelFamily.Mixtral, Layers = 4, Dim = 512, ExpertHidden = 1408, Heads = 8, KvHeads = 2,
        Experts = 8, TopK = 2, Vocab = 2048, Context = 2048, Seed = 42, DType = DType.BF16,
    };

    public static Command Create(IAnsiConsole console)
    {
        var command = new Command("demo", "Create the default model if absent and run it");
        command.SetAction(async (r, ct) =>
        {
            var budget = GlobalOptions.RamBudgetBytes(r);
            var catalog = GlobalOptions.Catalog(r);
            if (!catalog.Exists(ModelName)) Build(console, catalog);
            console.WriteLine();
            await WalkAsync(console, catalog, budget, ct);
            console.WriteLine();
            await GenerateAsync(console, catalog, budget, ct);
            return 0;
        });
        return command;
    }

    private static void Build(IAnsiConsole console, ModelCatalog catalog)
    {
        var source = Path.Combine(catalog.DataDir, "sources", ModelName + "-hf");
        if (Directory.Exists(source)) Directory.Delete(source, recursive: true);
        console.MarkupLine($"[grey]writing a synthetic Mixtral-shaped checkpoint to {Markup.Escape(source)}[/]");
        SyntheticModelGenerator.WriteHf(DemoSpec, source);
        try
        {
            ConvertCommand.Run(console, new ModelConverter(catalog, DescriptorCatalog.LoadDefault()), new ConversionRequest(source, ModelName));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
            var sources = Path.GetDirectoryName(source)!;
            if (!Directory.EnumerateFileSystemEntries(sources).Any()) Directory.Delete(sources);
        }
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

    private static async Task GenerateAsync(IAnsiConsole console, ModelCatalog catalog, long budget, CancellationToken ct)
    {
        const string prompt = "Once upon a time";
        using var session = await InferenceSession.OpenAsync(catalog, ModelName, new PageStoreOptions { RamBudgetBytes = budget }, 256, ct);
        var tokenizer = TokenizerLoader.Load(session.Weights.TokenizerDir, session.Weights.Manifest.Tokenizer);
        var request = new GenerationRequest(prompt, 32, new SamplerOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 42 }, []);
        var outcome = new GenerationOutcome();
        console.Markup($"[bold]{Markup.Escape(prompt)}[/]");
        var clock = Stopwatch.StartNew();
        await foreach (var text in new TextGenerator(session, tokenizer).GenerateAsync(request, outcome, ct))
            console.Write(new Text(text));
        console.WriteLine();
        var s = session.Weights.Store.Stats;
        console.MarkupLineInterpolated(
            $"[grey]{outcome.PromptTokens} prompt + {outcome.GeneratedTokens} generated tokens in {clock.Elapsed.TotalSeconds:0.00} s (seed {outcome.Seed}); {s.Hits} page hits, {s.Misses} misses, {ByteSize.Format(s.BytesRead)} from disk. Random weights: the text is noise until a trained default model ships.[/]");
    }
}
