using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Serving;

/// <summary>--ram-budget is engine-wide: the pages of every open model share it (one cache, one policy), an idle
/// model's pages make room for a busy one's, DROP MODEL takes a model's pages out at once and its rows out of the
/// system tables, and models generating together under a tight budget finish with the tokens they give alone.
/// Before, every open model had a cache of its own of the whole budget, and a dropped model's stayed resident.</summary>
public sealed class SharedRamBudgetTests : IDisposable
{
    private static readonly string[] Names = ["a", "b", "c"];
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly TempDir _dir = new();
    private readonly string _data;
    private readonly long _modelCharge; // what one model's pages cost the budget, all of them resident

    /// <summary>Three small synthetic Mixtrals of different weights (a page read from the wrong model would change
    /// the tokens), q8_0, 32 rows per page.</summary>
    public SharedRamBudgetTests()
    {
        _data = _dir.Sub("data");
        var converter = new ModelConverter(new ModelCatalog(_data), DescriptorCatalog.LoadDefault());
        for (var i = 0; i < Names.Length; i++)
        {
            var source = _dir.Sub("hf-" + Names[i]);
            SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
            {
                Family = ModelFamily.Mixtral, Layers = 2, Dim = 64, ExpertHidden = 64, Heads = 4, KvHeads = 2,
                Experts = 4, TopK = 2, Vocab = 300, Context = 96, Seed = 21 + i, DType = DType.F32,
            }, source);
            converter.Convert(new ConversionRequest(source, Names[i], DType.Q8_0, PageRows: 32));
        }
        using var store = PageStore.Open(new ModelCatalog(_data).ModelDir("a"), "a", new PageStoreOptions());
        _modelCharge = Enumerable.Range(0, store.PageCount).Sum(p => (long)PageStore.PageCharge(store.Entry(p).Length));
    }

    public void Dispose() => _dir.Dispose();

    private Vib3Engine Engine(long ramBudget) => new(new EngineOptions(_data, ramBudget));

    private static async Task<string> GenerateAsync(Vib3Engine engine, string model, string prompt, int tokens)
    {
        var plan = engine.Plan(new Generate(new StringLiteral(prompt), new GenerateOptions { Model = new Identifier(model), MaxTokens = tokens }));
        var (text, _) = await GenerationServiceTests.ReadAsync(await engine.Generations.StartAsync(plan, ChoiceOptions.Default));
        return text[0];
    }

    private static long Resident(Vib3Engine engine, string model) =>
        engine.Generations.Stats().Single(s => s.Model == model).Tiers.ResidentBytes;

    [Fact]
    public async Task Three_models_generating_at_once_hold_no_more_than_the_budget_together()
    {
        var budget = _modelCharge; // room for one model's pages, not three
        await using var engine = Engine(budget);
        foreach (var name in Names) await engine.Generations.WarmUpAsync(name);

        using var done = new CancellationTokenSource();
        var samples = 0;
        var over = new List<string>();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                var p = engine.Generations.RamBudget;
                if (p.ResidentBytes + p.LoadingBytes + p.FreeBytes > budget) over.Add(p.ToString());
                samples++;
                await Task.Delay(1);
            }
        });
        await Task.WhenAll(Names.SelectMany(n => new[] { "the cat", "one two three" }.Select(p => GenerateAsync(engine, n, p, 12))))
            .WaitAsync(Patience);
        done.Cancel();
        await sampler;

        Assert.Empty(over);
        Assert.True(samples > 0);
        var stats = engine.Generations.Stats();
        Assert.Equal(3, stats.Count);
        var pool = engine.Generations.RamBudget;
        Assert.Equal(budget, pool.CapacityBytes);
        Assert.Equal(stats.Sum(s => s.Tiers.ResidentBytes), pool.ResidentBytes); // every model's part of one count
        Assert.InRange(stats.Sum(s => s.Tiers.ResidentBytes), 1, budget);
        Assert.All(stats, s => Assert.Equal(budget, s.Tiers.CapacityBytes));
    }

    [Fact]
    public async Task A_busy_model_takes_room_from_an_idle_ones_pages()
    {
        // Each model's prompts read about half its pages: room for one model's reads and a little of another's.
        var budget = _modelCharge * 3 / 4;
        await using var engine = Engine(budget);
        await GenerateAsync(engine, "b", "the cat", 8);
        var before = Resident(engine, "b");
        Assert.True(before > budget / 2, $"b holds {before} bytes after generating");

        await GenerateAsync(engine, "a", "one two three", 8);
        await GenerateAsync(engine, "a", "hello world", 8);

        var after = Resident(engine, "b");
        Assert.True(after < before, $"the idle model b still holds {after} bytes (it held {before}) after a needed room");
        Assert.True(Resident(engine, "a") > budget - before, $"a holds {Resident(engine, "a")} bytes: more than b left free");
        Assert.True(engine.Generations.RamBudget.ResidentBytes <= budget);
    }

    [Fact]
    public async Task Drop_model_takes_its_pages_out_of_the_budget_and_its_rows_out_of_the_system_tables()
    {
        await using var engine = Engine(_modelCharge * 4);
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        using var other = engine.OpenSession(ClientAccess.LocalAdministrator);
        await SessionRows.LastAsync(other, "USE MODEL b");
        await SessionRows.LastAsync(session, "GENERATE 'the cat' FROM MODEL a MAX_TOKENS 4");
        await SessionRows.LastAsync(session, "GENERATE 'the cat' FROM MODEL b MAX_TOKENS 4");
        var a = Resident(engine, "a");
        var b = Resident(engine, "b");
        Assert.Equal(a + b, engine.Generations.RamBudget.ResidentBytes);

        var tiers = await SessionRows.LastAsync(session, "SELECT model, resident_bytes, capacity_bytes FROM vib3_tiers WHERE tier = 'ram'");
        Assert.Equal([("a", a), ("b", b), ((string?)null, a + b)], tiers.Select(r => ((string?)r[0], (long)r[1]!)));
        Assert.All(tiers, r => Assert.Equal(_modelCharge * 4, r[2]));

        await SessionRows.LastAsync(session, "DROP MODEL b");

        Assert.Equal(a, engine.Generations.RamBudget.ResidentBytes); // at once, not when b's pages are evicted
        Assert.Equal(1, engine.Generations.RamBudget.Stores);
        tiers = await SessionRows.LastAsync(session, "SELECT model, resident_bytes FROM vib3_tiers WHERE tier = 'ram'");
        Assert.Equal([("a", a), ((string?)null, a)], tiers.Select(r => ((string?)r[0], (long)r[1]!)));
        Assert.Empty(await SessionRows.LastAsync(session, "SELECT model FROM vib3_tiers WHERE model = 'b'"));
        Assert.DoesNotContain(await SessionRows.LastAsync(session, "SELECT current_model FROM vib3_sessions"), r => (string?)r[0] == "b");
        Assert.DoesNotContain(engine.Generations.Stats(), s => s.Model == "b");
    }

    [Fact]
    public async Task EXPLAIN_says_the_budget_is_shared_and_what_the_open_models_hold()
    {
        await using var engine = Engine(_modelCharge * 4);
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await SessionRows.LastAsync(session, "GENERATE 'the cat' FROM MODEL b MAX_TOKENS 4");
        var plan = string.Join("\n", (await SessionRows.LastAsync(session, "EXPLAIN GENERATE 'x' FROM MODEL a")).Select(r => (string)r[0]!));
        Assert.Contains(
            $"RAM budget shared by every open model: 1 open, this one's pages 0 B, the others' {ByteSize.Format(Resident(engine, "b"))}", plan);
    }

    [Fact]
    public async Task Two_models_generating_together_under_a_tight_budget_finish_with_the_tokens_they_give_alone()
    {
        string[] prompts = ["the cat", "one two three", "zz"];
        var alone = new List<string>();
        await using (var roomy = Engine(_modelCharge * 4))
            foreach (var model in new[] { "a", "b" })
                foreach (var p in prompts) alone.Add(await GenerateAsync(roomy, model, p, 10));

        // A quarter of one model: each holds its part of the pool while it waits for room the other's pages free.
        await using var engine = Engine(_modelCharge / 4);
        var together = await Task.WhenAll(new[] { "a", "b" }.SelectMany(m => prompts.Select(p => GenerateAsync(engine, m, p, 10))))
            .WaitAsync(Patience);
        Assert.Equal(alone, together);
        var pool = engine.Generations.RamBudget;
        Assert.True(pool.BudgetWaits + pool.Evictions > 0, "the budget was tight");
        Assert.Equal(0, pool.PinnedBytes);
    }

    [Fact]
    public async Task A_model_whose_largest_page_cannot_fit_the_budget_is_refused_with_53200()
    {
        await using var engine = Engine(4096);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => GenerateAsync(engine, "a", "x", 1));
        Assert.Equal(SqlState.InsufficientResources, e.SqlState);
        Assert.Contains("model a", e.Message);
        Assert.Equal(0, engine.Generations.RamBudget.Stores);
    }

}
