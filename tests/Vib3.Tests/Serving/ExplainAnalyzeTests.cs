using System.Text.RegularExpressions;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Inference;
using Vib3.Query;
using Vib3.Query.Planning;
using Vib3.Storage.Catalog;

namespace Vib3.Tests.Serving;

/// <summary>EXPLAIN ANALYZE's per-operator figures on a real converted model (q8_0, 4 experts top-2, 4 bundle pages
/// per expert): what each operator of the program measures for a statement equals what the planner estimated per
/// token, for router and retrieval plans, and stays the statement's own while another sequence shares its steps.</summary>
public sealed partial class ExplainAnalyzeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public ExplainAnalyzeTests() => _data = ServingModel.Convert(_dir, expertHidden: 128, context: BesideTokens + 64);

    /// <summary>What the sequence beside a measured one may generate: far more steps than the measured one takes, so it
    /// is still running when that one ends even if the test's thread waits a long while between the two starts.</summary>
    private const int BesideTokens = 2000;

    public void Dispose() => _dir.Dispose();

    private Vib3Engine Engine() => new(new EngineOptions(_data, 64L << 20));

    private static GenerationPlan Plan(Vib3Engine engine, string prompt, int maxTokens, int? k = null) =>
        engine.Plan(new Generate(new StringLiteral(prompt), new GenerateOptions
        {
            Model = new Identifier("m"), MaxTokens = maxTokens,
            Routing = k is null ? RoutingMode.Router : RoutingMode.Retrieval, K = k,
        }));

    /// <summary>Runs a plan with its operators measured and returns the figures (the stream read to its end).</summary>
    private static async Task<StatementActuals> MeasureAsync(Vib3Engine engine, GenerationPlan plan)
    {
        await using var stream = await engine.Generations.StartAsync(plan, new ChoiceOptions { Analyze = true });
        await foreach (var _ in stream.ReadAllAsync()) { }
        return stream.Actuals!;
    }

    /// <summary>Every operator's measured pages and bytes are its per-token estimate times the tokens it ran, when each
    /// step holds one of the statement's rows (a one-token prompt, then one token per step): the dense operators read
    /// each of their pages once per step, the routed Experts every bundle of the row's top-2 experts, Embed the page of
    /// the row's token, LmHead its whole matrix for the one row whose logits are wanted.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData(3)]
    public async Task Each_operator_reads_the_pages_and_bytes_its_estimate_gives_per_token(int? k)
    {
        await using var engine = Engine();
        if (k is not null)
            using (var session = engine.OpenSession(ClientAccess.LocalAdministrator))
                await foreach (var _ in session.ExecuteAsync("CREATE INDEX ON MODEL m")) { }
        var plan = Plan(engine, "", 12, k);
        Assert.Equal(k is not null, plan.Routing.Retrieval);
        var actuals = await MeasureAsync(engine, plan);
        var embed = actuals[plan.Program.Operators[0].Id];
        Assert.Equal(embed.Calls, embed.Rows); // one row per step, so per step = per token
        Assert.Equal(12, embed.Rows);          // the one-token prompt, then 11 more tokens
        foreach (var op in plan.Program.Operators)
        {
            var f = actuals[op.Id];
            const long rows = 12; // each token ran through the pass once and each generated one was sampled once
            Assert.True(f.Calls == rows && f.Rows == rows, $"{op.Kind} of layer {op.Layer}: {f.Calls} calls, {f.Rows} rows");
            Assert.True(f.Pages == op.PagesPerRow * rows, $"{op.Kind} of layer {op.Layer}: {f.Pages} pages, estimated {op.PagesPerRow} per token");
            if (op.Kind != OperatorKind.Embed) // the token's page may be the embedding's last, shorter one
                Assert.True(f.Bytes == op.BytesPerRow * rows, $"{op.Kind} of layer {op.Layer}: {f.Bytes} B, estimated {op.BytesPerRow} per token");
            Assert.True(f.Time > TimeSpan.Zero || op.Kind == OperatorKind.Sample, $"{op.Kind} of layer {op.Layer} took no time");
        }
        Assert.True(actuals.Total.Pages > 0);
    }

    /// <summary>Two statements sharing the model's steps: the measured one counts only the pages its own rows used (its
    /// tokens' embedding pages, its own experts; the shared operators' pages once per step it was in), while the store saw
    /// the other's too. The other one is decoding before the measured one starts and has 2,000 tokens to go (its context
    /// holds them; a context-bound sequence once ended first on a loaded machine), so every step of the measured one holds
    /// a row of each.</summary>
    [Fact]
    public async Task A_statement_s_figures_stay_its_own_while_another_sequence_runs_beside_it()
    {
        await using var engine = Engine();
        await engine.Generations.WarmUpAsync("m");
        var before = engine.Generations.Stats().Single();
        await using var beside = await engine.Generations.StartAsync(
            Plan(engine, "the cat sat on the mat", BesideTokens) with { IgnoreEos = true },
            ChoiceOptions.Default);
        var events = beside.ReadAllAsync().GetAsyncEnumerator();
        while (await events.MoveNextAsync() && events.Current is not TextDelta) { } // its prompt is in, it decodes now
        var plan = Plan(engine, "", 12);
        var besideDone = Task.Run(async () => { while (await events.MoveNextAsync()) { } });
        var actuals = await MeasureAsync(engine, plan);
        var after = engine.Generations.Stats().Single();
        Assert.False(besideDone.IsCompleted, "the other sequence was to run throughout (it finished first)");
        Assert.True(after.BatchRows - before.BatchRows > after.Steps - before.Steps, "steps held both sequences' rows");

        long mine = 0;
        foreach (var op in plan.Program.Operators.Where(o => o.Kind != OperatorKind.Sample))
        {
            var f = actuals[op.Id];
            Assert.True(f.Calls == 12 && f.Rows == 12, $"{op.Kind} of layer {op.Layer}: {f.Calls} calls, {f.Rows} rows");
            Assert.True(f.Pages == op.PagesPerRow * 12, $"{op.Kind} of layer {op.Layer}: {f.Pages} pages, estimated {op.PagesPerRow} per token");
            if (op.Kind == OperatorKind.Experts) mine += f.Pages;
        }
        var expertReads = ExpertReads(after) - ExpertReads(before);
        Assert.True(expertReads > mine, $"the store read {expertReads} expert pages while the statement ran, its own rows used {mine}");
        await beside.DisposeAsync();
        await besideDone;
        await events.DisposeAsync();

        static long ExpertReads(ServedModelStats s) => s.ExpertTiersByLayer.Sum(x => x.Hits + x.Joined + x.Misses);
    }

    [Fact]
    public async Task Explain_analyze_prints_actuals_under_every_operator_and_the_legend()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var lines = new List<string>();
        await foreach (var result in session.ExecuteAsync("CREATE INDEX ON MODEL m; EXPLAIN ANALYZE GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=2 MAX_TOKENS 6"))
            await foreach (var row in result.Rows) lines.Add(row.Length > 0 ? row[0] as string ?? "" : "");
        var text = string.Join("\n", lines);
        var nodes = Regex.Matches(text, @"[├└]─ (\w+)").Select(m => m.Groups[1].Value).ToList();
        var actual = Regex.Matches(text, @"\(actual \d+\.\d{3} ms, (\d+) calls, (\d+) rows; pages (\d+) hit / (\d+) joined / (\d+) disk, ").ToList();
        Assert.Equal(nodes.Count, actual.Count); // one figures line per node, layers included
        Assert.Contains("Experts", nodes);
        Assert.Contains("LmHead", nodes);
        Assert.Contains("A page read once for rows of several statements counts in each", text);
        Assert.Matches(@"disk tier: \d+ page reads \(.+\) and \d+ read ahead \(.+\) for this statement; ", text);
    }
}
