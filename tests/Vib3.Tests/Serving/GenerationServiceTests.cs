using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Inference;
using Vib3.Models.Tests;
using Vib3.Query;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Tests.Serving;

/// <summary>The engine's continuous batching on a real converted model (q8_0, whose batched and single-row products
/// are bit-identical, so a sequence must produce exactly the same tokens alone and in a crowd).</summary>
public sealed class GenerationServiceTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public GenerationServiceTests() => _data = ServingModel.Convert(_dir, expertHidden: 64);

    public void Dispose() => _dir.Dispose();

    private Vib3Engine Engine(int maxBatch = 32, int maxQueue = 256, long ramBudget = 64L << 20) =>
        new(new EngineOptions(_data, ramBudget) { MaxBatch = maxBatch, MaxQueue = maxQueue });

    internal static Query.Planning.GenerationPlan Plan(Vib3Engine engine, string prompt, int maxTokens, decimal temperature = 0, long? seed = null,
        params string[] stop) =>
        engine.Plan(new Generate(new StringLiteral(prompt), new GenerateOptions
        {
            Model = new Identifier("m"), MaxTokens = maxTokens, Temperature = temperature, Seed = seed,
            Stop = new ValueList<Expression>(stop.Select(s => (Expression)new StringLiteral(s))),
        }));

    /// <summary>Every choice's text and finish.</summary>
    internal static async Task<(string[] Text, ChoiceFinished[] Finished)> ReadAsync(GenerationStream stream, int choices = 1)
    {
        var text = Enumerable.Range(0, choices).Select(_ => new System.Text.StringBuilder()).ToArray();
        var finished = new ChoiceFinished[choices];
        await foreach (var e in stream.ReadAllAsync())
            if (e is TextDelta d) text[d.Choice].Append(d.Text);
            else if (e is ChoiceFinished f) finished[f.Choice] = f;
        return (text.Select(t => t.ToString()).ToArray(), finished);
    }

    internal static readonly string[] Prompts = ["a", "the cat", "hello world", "zz", "one two three", "q", "abc abc", "x y"];

    /// <summary>A prompt given as token ids (what the benchmarks run) is fed as it is: the engine continues it with the
    /// tokens the forward pass alone gives greedily; ids outside the vocabulary and an empty prompt are refused.</summary>
    [Fact]
    public async Task A_prompt_of_token_ids_continues_as_the_forward_pass_alone_does()
    {
        int[] prompt = [1, 17, 42, 99, 5];
        List<int> expected;
        using (var pass = await SequencePass.OpenAsync(new ModelCatalog(_data), "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 }))
            expected = await pass.GreedyAsync(prompt, 10);

        await using var engine = Engine();
        Query.Planning.GenerationPlan Plan(params int[] ids) => engine.Plan(new GenerateTokens(new ValueList<int>(ids), new GenerateOptions
        {
            Model = new Identifier("m"), MaxTokens = 10, Temperature = 0, IgnoreEos = true,
        }));
        var plan = Plan(prompt);
        Assert.Contains("prompt: 5 token ids", Query.Planning.PlanPrinter.Print(plan));
        await using var stream = await engine.Generations.StartAsync(plan, new ChoiceOptions { TopLogprobs = 0 });
        var ids = new List<int>();
        await foreach (var e in stream.ReadAllAsync())
            if (e is TextDelta d) ids.AddRange(d.Logprobs.Select(t => t.Id));
        Assert.Equal(expected, ids);

        var error = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.StartAsync(Plan(5, 300), ChoiceOptions.Default));
        Assert.Equal(SqlState.InvalidParameterValue, error.SqlState);
        Assert.Contains("token id 300 is outside the vocabulary (0..299)", error.Message);
        error = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.StartAsync(Plan(), ChoiceOptions.Default));
        Assert.Contains("the prompt has no tokens", error.Message);
    }

    [Fact]
    public async Task Sequences_in_one_batch_give_exactly_the_tokens_they_give_alone()
    {
        await using var engine = Engine();
        var alone = new List<(string, string, int)>();
        foreach (var p in Prompts)
        {
            var r = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, p, 24), ChoiceOptions.Default));
            alone.Add((r.Text[0], r.Finished[0].FinishReason, r.Finished[0].CompletionTokens));
        }

        var streams = await Task.WhenAll(Prompts.Select(p => engine.Generations.StartAsync(Plan(engine, p, 24), ChoiceOptions.Default)));
        var together = await Task.WhenAll(streams.Select(s => ReadAsync(s)));
        Assert.Equal(alone, together.Select(t => (t.Text[0], t.Finished[0].FinishReason, t.Finished[0].CompletionTokens)));
        var stats = Assert.Single(engine.Generations.Stats());
        Assert.True(stats.BatchRows > stats.Steps, "some steps held several sequences");
        Assert.Equal(0, engine.Generations.Running);
    }

    [Fact]
    public async Task A_batch_under_a_budget_of_two_pages_streams_every_page_and_gives_the_same_tokens()
    {
        var maxPage = new ModelCatalog(_data).Get("m").MaxPageBytes;
        var streams = new List<string>();
        foreach (var budget in new[] { 64L << 20, Storage.PageStore.MinimumRamBudget(maxPage) + 2L * maxPage })
        {
            await using var engine = Engine(ramBudget: budget);
            var started = await Task.WhenAll(Prompts.Take(4).Select(p => engine.Generations.StartAsync(Plan(engine, p, 12), ChoiceOptions.Default)));
            streams.Add(string.Join("|", (await Task.WhenAll(started.Select(s => ReadAsync(s)))).Select(r => r.Text[0])));
            if (budget < 64L << 20) Assert.True(engine.Generations.Stats()[0].Tiers.Evictions > 0, "the tight budget made pages stream");
        }
        Assert.Equal(streams[0], streams[1]);
    }

    [Fact]
    public async Task Choices_share_the_prompt_and_repeat_with_seed_plus_index()
    {
        await using var engine = Engine();
        var three = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "the cat", 16, 1, seed: 5),
            new ChoiceOptions { Choices = 3 }), 3);
        for (var i = 0; i < 3; i++)
        {
            var single = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "the cat", 16, 1, seed: 5 + i), ChoiceOptions.Default));
            Assert.Equal(single.Text[0], three.Text[i]);
        }
        Assert.True(three.Text.Distinct().Count() > 1, "different seeds sample differently");
    }

    [Fact]
    public async Task A_cancelled_stream_leaves_the_batch_and_frees_its_place()
    {
        await using var engine = Engine(maxBatch: 1, maxQueue: 0);
        var stream = await engine.Generations.StartAsync(Plan(engine, "hello", 90), ChoiceOptions.Default);
        await using (var e = stream.ReadAllAsync().GetAsyncEnumerator()) Assert.True(await e.MoveNextAsync());
        Assert.Equal(1, engine.Generations.Running);
        var refused = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.StartAsync(Plan(engine, "x", 4), ChoiceOptions.Default));
        Assert.Equal(SqlState.InsufficientResources, refused.SqlState);

        await stream.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.Generations.Running > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, engine.Generations.Running);
        var next = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "x", 4), ChoiceOptions.Default));
        Assert.Equal("length", next.Finished[0].FinishReason);
    }

    [Fact]
    public async Task A_finished_stream_can_still_be_disposed_after_its_engine_closed()
    {
        var engine = Engine();
        var stream = await engine.Generations.StartAsync(Plan(engine, "hello", 4), ChoiceOptions.Default);
        await ReadAsync(stream);
        await engine.DisposeAsync();
        await stream.DisposeAsync(); // a client going away after shutdown: nothing left to wake, and no error
    }

    [Fact]
    public async Task Queued_requests_run_when_the_batch_has_room()
    {
        await using var engine = Engine(maxBatch: 2, maxQueue: 4);
        var streams = await Task.WhenAll(Prompts.Take(6).Select(p => engine.Generations.StartAsync(Plan(engine, p, 8), ChoiceOptions.Default)));
        var results = await Task.WhenAll(streams.Select(s => ReadAsync(s)));
        Assert.All(results, r => Assert.Equal(8, r.Finished[0].CompletionTokens));
        // Seven at once into 2 running + 4 queued places: exactly one is refused, unless a running stream finished
        // its 64 tokens (and freed its place) before the seventh arrived, which a loaded machine can do by pausing
        // this thread. So a burst may refuse fewer, never more, and some burst in five must refuse exactly one.
        var bursts = new List<int>();
        while (bursts.Count < 5 && !bursts.Contains(1))
        {
            var attempts = Enumerable.Range(0, 7).Select(_ => engine.Generations.StartAsync(Plan(engine, "q", 64), ChoiceOptions.Default)).ToArray();
            var refusals = 0;
            foreach (var attempt in attempts)
            {
                try { await ReadAsync(await attempt); }
                catch (Vib3Exception e) when (e.SqlState == SqlState.InsufficientResources) { refusals++; }
            }
            bursts.Add(refusals);
        }
        Assert.All(bursts, refusals => Assert.InRange(refusals, 0, 1));
        Assert.Contains(1, bursts);
    }

    [Fact]
    public async Task Stops_max_tokens_and_context_end_a_choice_with_the_right_reason()
    {
        await using var engine = Engine();
        var free = (await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "the cat", 20), ChoiceOptions.Default))).Text[0];
        Assert.True(free.Length > 4);
        var stop = free.Substring(free.Length / 2, 2);
        var cut = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "the cat", 20, stop: stop), ChoiceOptions.Default));
        Assert.Equal("stop", cut.Finished[0].FinishReason);
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], cut.Text[0]);

        var full = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "the cat", 1000), ChoiceOptions.Default));
        Assert.Equal("length", full.Finished[0].FinishReason); // the 96-token context ran out first
        var tooLong = await Assert.ThrowsAsync<Vib3Exception>(() =>
            engine.Generations.StartAsync(Plan(engine, string.Join(" ", Enumerable.Repeat("abc", 200)), 4), ChoiceOptions.Default));
        Assert.Equal(SqlState.ProgramLimitExceeded, tooLong.SqlState);
    }

    [Fact]
    public async Task A_prompt_too_long_for_the_context_is_refused_before_it_is_tokenized()
    {
        await using var engine = Engine();
        await engine.Generations.WarmUpAsync("m"); // open: StartAsync now runs on this thread up to the refusal
        var text = string.Concat(Enumerable.Repeat("the cat sat on the mat. ", (2 << 20) / 24));
        var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        var plan = Plan(engine, text, 4);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var refused = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.StartAsync(plan, ChoiceOptions.Default));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(SqlState.ProgramLimitExceeded, refused.SqlState);
        Assert.StartsWith($"the prompt is {bytes} bytes, so at least ", refused.Message);
        Assert.EndsWith("more than model 'm''s context of 96 tokens", refused.Message);
        // Tokenizing 2 MiB of text costs megabytes (its ids alone); refusing it from its length costs the error.
        Assert.True(allocated < 64 << 10, $"{allocated} bytes were allocated to refuse the prompt");
    }

    [Fact]
    public async Task Logprobs_are_log_probabilities_and_greedy_picks_the_best()
    {
        await using var engine = Engine();
        var stream = await engine.Generations.StartAsync(Plan(engine, "hello", 8), new ChoiceOptions { TopLogprobs = 3 });
        var tokens = new List<TokenLogprob>();
        await foreach (var e in stream.ReadAllAsync()) if (e is TextDelta d) tokens.AddRange(d.Logprobs);
        Assert.Equal(8, tokens.Count);
        Assert.All(tokens, t =>
        {
            Assert.True(t.Logprob <= 0);
            Assert.Equal(3, t.Top.Count);
            Assert.Equal(t.Id, t.Top[0].Id); // greedy
            Assert.True(t.Top[0].Logprob >= t.Top[1].Logprob && t.Top[1].Logprob >= t.Top[2].Logprob);
            Assert.Equal(t.Logprob, t.Top[0].Logprob);
        });
    }
}
