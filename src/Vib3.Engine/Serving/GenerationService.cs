using System.Collections.Concurrent;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Sampling;
using Vib3.Query.Planning;
using Vib3.Storage;

namespace Vib3.Engine.Serving;

/// <summary>Runs generation plans for every front end. Each model is opened once, on first use (or by
/// <see cref="WarmUpAsync"/>), and all sequences on it share its continuous batch.</summary>
public sealed class GenerationService : IAsyncDisposable
{
    private readonly Vib3Engine _engine;
    private readonly ConcurrentDictionary<string, Lazy<Task<ServedModel>>> _models = new(StringComparer.OrdinalIgnoreCase);

    internal GenerationService(Vib3Engine engine) => _engine = engine;

    /// <summary>Sequences queued, not yet in a batch (all models).</summary>
    public int Waiting => Open().Sum(m => m.Scheduler.Waiting);

    /// <summary>Sequences in the running batches (all models).</summary>
    public int Running => Open().Sum(m => m.Scheduler.Running);

    /// <summary>Opens <paramref name="model"/> for serving now rather than at its first request.</summary>
    public async Task WarmUpAsync(string model, CancellationToken ct = default) => await GetAsync(model, ct).ConfigureAwait(false);

    /// <summary>Tokenizes the prompt (a chat prompt through the model's template; text that cannot fit the context is
    /// refused before it is tokenized), checks that it fits the context,
    /// queues its choices and returns at once; their text arrives through the stream.</summary>
    public async Task<GenerationStream> StartAsync(GenerationPlan plan, ChoiceOptions options, CancellationToken ct = default)
    {
        if (options.Choices < 1)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"the number of choices must be at least 1, not {options.Choices}");
        if (options.TopLogprobs is < 0 or > 20)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"top logprobs must be between 0 and 20, not {options.TopLogprobs}");
        var served = await GetAsync(plan.Model, ct).ConfigureAwait(false);
        if (!served.Forward.Runs(plan.Program)) // the model was dropped and made again between planning and now
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"the plan was made for another version of model \"{plan.Model}\" than the one open now: run the statement again");
        var index = plan.Program.Retrieval is null ? null : served.Index.Current();
        var tokenizer = served.Tokenizer;
        var chat = plan.Prompt.Messages is { } messages ? ChatPrompt.Render(served.Weights, messages, ct) : null;
        var context = Context(served);
        IReadOnlyList<int> prompt;
        if (plan.Prompt.Tokens is { } ids) prompt = CheckTokens(ids, served);
        else
        {
            var (text, addBos) = chat is not null ? (chat.Text, chat.AddBos) : (plan.Prompt.Text!, (bool?)null);
            served.PromptBound.Check(text, context, plan.Model, ContextName(served, plan.Model));
            prompt = tokenizer.Encode(text, addBos ?? tokenizer.AddBosByDefault);
        }
        if (prompt.Count > context)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"the prompt is {prompt.Count} tokens, more than {ContextName(served, plan.Model)} of {context} tokens");
        var capacity = (int)Math.Min(context, (long)prompt.Count + plan.MaxTokens);

        var h = served.Forward.Hyper;
        var stream = new GenerationStream(served.Weights.Manifest.Name, prompt.Count, options.Choices,
            new RoutingStats(h.Layers, h.Experts), served.Scheduler.Wake)
        {
            ChatTemplate = chat?.Template, Actuals = options.Analyze ? new StatementActuals(plan.Program) : null,
        };
        var states = Enumerable.Range(0, options.Choices).Select(i => new GenerationState(tokenizer, prompt, plan.MaxTokens,
            Sampling(plan.Sampling, i), plan.Stop, options.TopLogprobs, plan.IgnoreEos)).ToArray();
        stream.Seeds = states.Select(s => s.Seed).ToArray();
        if (plan.MaxTokens == 0)
        {
            for (var i = 0; i < states.Length; i++) stream.Publish(new ChoiceFinished(i, "length", 0, TimeSpan.Zero, TimeSpan.Zero));
            return stream;
        }
        var leader = new Sequence(stream, 0, prompt, capacity, states[0], null) { Program = plan.Program, Index = index };
        for (var i = 1; i < states.Length; i++)
            leader.Followers.Add(new Sequence(stream, i, prompt, capacity, states[i], leader) { Program = plan.Program, Index = index });
        served.Scheduler.Enqueue(leader);
        return stream;
    }

    /// <summary>The logits a model gives for <paramref name="tokens"/> fed into an empty cache: of every position, or
    /// of the last only. Runs on the model's scheduler between its steps (its forward pass has one caller).</summary>
    public async Task<float[][]> LogitsAsync(string model, IReadOnlyList<int> tokens, bool allPositions, CancellationToken ct = default)
    {
        var served = await GetAsync(model, ct).ConfigureAwait(false);
        CheckTokens(tokens, served);
        var context = Context(served);
        if (tokens.Count > context)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"the prompt is {tokens.Count} tokens, more than {ContextName(served, model)} of {context} tokens");
        return await served.Scheduler.RunAloneAsync((forward, token) =>
            forward.PrefillAsync(tokens, KvCache.For(forward.Hyper, tokens.Count, _engine.Options.KvCache), allPositions, token), ct).ConfigureAwait(false);
    }

    /// <summary>The context <see cref="PerplexityAsync"/> takes unless told: llama-perplexity's 512 tokens, or the
    /// model's context where it is shorter.</summary>
    public const int DefaultPerplexityContext = 512;

    /// <summary>Perplexity of <paramref name="plan"/>'s model, routed as the plan says, over <paramref name="text"/>
    /// (tokenized as a prompt is) in windows of <paramref name="context"/> tokens every <paramref name="stride"/>
    /// (<see cref="PerplexityEvaluation"/>); with <paramref name="reference"/> (another plan of the same model, e.g.
    /// USING ROUTER), also KL and top-1 agreement against it. Runs on the model's scheduler between its steps: the
    /// model's other sequences wait until it is done.</summary>
    public async Task<PerplexityResult> PerplexityAsync(GenerationPlan plan, GenerationPlan? reference, string text, int? context, int? stride,
        CancellationToken ct = default)
    {
        if (text.Length == 0) throw new Vib3Exception(SqlState.InvalidParameterValue, "the text is empty: there is nothing to score");
        var served = await GetAsync(plan.Model, ct).ConfigureAwait(false);
        foreach (var p in reference is null ? [plan] : new[] { plan, reference })
            if (!served.Forward.Runs(p.Program) || !string.Equals(p.Model, plan.Model, StringComparison.OrdinalIgnoreCase))
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"the plans were made for another version of model \"{plan.Model}\" than the one open now, or for two models: run it again");
        var window = context ?? Math.Min(DefaultPerplexityContext, Context(served));
        if (window > Context(served))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"a context of {window} tokens exceeds {ContextName(served, plan.Model)} of {Context(served)} tokens");
        var tokens = served.Tokenizer.Encode(text, served.Tokenizer.AddBosByDefault);
        var scored = Scored(plan, served);
        var against = reference is null ? null : Scored(reference, served);
        return await served.Scheduler.RunAloneAsync((forward, token) => new ValueTask<PerplexityResult>(
            PerplexityEvaluation.RunAsync(forward, tokens, window, stride ?? window, scored, against, _engine.Options.KvCache, token)), ct).ConfigureAwait(false);
    }

    private static ScoredRouting Scored(GenerationPlan plan, ServedModel served) =>
        new(plan.Program, plan.Program.Retrieval is null ? null : served.Index.Current());

    /// <summary>A cold start for <paramref name="model"/> (benchmarks): its page cache emptied and the OS asked to drop
    /// its cached copy of the store (<see cref="PageStore.DropCaches"/>); false where the OS cache could not be
    /// dropped. Pages in use by a running step stay.</summary>
    public async Task<bool> DropCachesAsync(string model, CancellationToken ct = default) =>
        (await GetAsync(model, ct).ConfigureAwait(false)).Weights.Store.DropCaches();

    /// <summary>Positions a sequence on the model may hold: its context, or less where the engine caps it.</summary>
    private int Context(ServedModel served) => Math.Min(served.Forward.Hyper.Context, _engine.Options.MaxContext ?? int.MaxValue);

    private string ContextName(ServedModel served, string model) =>
        _engine.Options.MaxContext < served.Forward.Hyper.Context ? "the engine's context limit (--context)" : $"model '{model}''s context";

    /// <summary>A prompt given as token ids: each must be in the vocabulary, and there must be one.</summary>
    private static IReadOnlyList<int> CheckTokens(IReadOnlyList<int> tokens, ServedModel served)
    {
        if (tokens.Count == 0) throw new Vib3Exception(SqlState.InvalidParameterValue, "the prompt has no tokens");
        var vocab = served.Forward.Hyper.Vocab;
        foreach (var t in tokens)
            if ((uint)t >= (uint)vocab)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"token id {t} is outside the vocabulary (0..{vocab - 1})");
        return tokens;
    }

    /// <summary>Choice i samples with seed + i, so n choices from one seeded request differ yet repeat.</summary>
    private static SamplerOptions Sampling(SamplingPlan s, int choice) => new()
    {
        Temperature = (float)s.Temperature, TopP = (float)s.TopP, TopK = s.TopK, MinP = (float)s.MinP,
        PresencePenalty = (float)s.PresencePenalty, FrequencyPenalty = (float)s.FrequencyPenalty, RepetitionPenalty = (float)s.RepeatPenalty,
        Seed = s.Seed is { } seed ? unchecked((ulong)seed + (ulong)choice) : null,
    };

    /// <summary>Per open model: tiers, steps, tokens, batch occupancy.</summary>
    public IReadOnlyList<ServedModelStats> Stats() => Open().OrderBy(m => m.Weights.Manifest.Name, StringComparer.Ordinal).Select(m =>
    {
        var (steps, rows, generated, prompt) = m.Scheduler.Counters;
        return new ServedModelStats(m.Weights.Manifest.Name, m.Instance, m.Weights.Store.Stats, steps, rows, generated, prompt,
            m.Scheduler.Running, m.Scheduler.Waiting, m.Weights.Store.Prefetches, m.Forward.Prediction.Decisions, m.Forward.Prediction.Predicted,
            m.Weights.Store.ExpertTiersByLayer ?? [], m.Weights.PageWaits, m.Weights.Store.IsDirectIo, m.Forward.Device?.Stats);
    }).ToArray();

    /// <summary>The engine-wide VRAM budget and what the open models hold of it; null without a device.</summary>
    public (long BudgetBytes, long UsedBytes)? VramBudget => _engine.DeviceTier is { } t ? (t.BudgetBytes, t.UsedBytes) : null;

    /// <summary>The engine-wide RAM budget and what every open model's pages take of it.</summary>
    public PagePoolStats RamBudget => _engine.PagePool.Stats;

    /// <summary>How the shared budget is used now, for EXPLAIN of a plan on <paramref name="model"/>.</summary>
    internal RamBudgetUse RamUse(string model)
    {
        var pool = _engine.PagePool.Stats;
        var own = OpenModel(model)?.Weights.Store.Stats.ResidentBytes ?? 0;
        return new RamBudgetUse(pool.Stores, own, pool.ResidentBytes - own);
    }

    /// <summary>The model <paramref name="name"/> if it is open, else null (nothing is opened).</summary>
    internal ServedModel? OpenModel(string name) =>
        Open().FirstOrDefault(m => m.Weights.Manifest.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The open models (for the system tables).</summary>
    internal IEnumerable<ServedModel> Open() =>
        _models.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully).Select(l => l.Value.Result);

    internal async Task<ServedModel> GetAsync(string model, CancellationToken ct)
    {
        if (!_engine.Catalog.Exists(model))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{model}\" does not exist");
        // Opened on a thread of its own: the Lazy's factory runs under its lock, and the open's synchronous part (the
        // store, then the first page reads' continuations) would hold every other caller's thread blocked on that lock,
        // starving the pool the open itself needs (16 first requests: ~15 s to first token on 2 cores, a hang with 4 workers).
        var lazy = _models.GetOrAdd(model, name => new Lazy<Task<ServedModel>>(() => Task.Run(() => ServedModel.OpenAsync(_engine, name, CancellationToken.None))));
        try
        {
            return await lazy.Value.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            _models.TryRemove(new KeyValuePair<string, Lazy<Task<ServedModel>>>(model, lazy)); // let a later request try again
            throw;
        }
    }

    /// <summary>Closes a model (DROP MODEL): its queued and running generations fail with a clear error.</summary>
    internal async Task CloseAsync(string model)
    {
        if (!_models.TryRemove(model, out var lazy)) return;
        ServedModel served;
        try { served = await lazy.Value.ConfigureAwait(false); }
        catch (Exception) { return; } // it never opened
        await served.CloseAsync(new Vib3Exception(SqlState.UndefinedObject, $"model \"{model}\" was dropped")).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _models.Keys.ToArray())
            if (_models.TryRemove(name, out var lazy) && lazy.IsValueCreated)
            {
                try { await (await lazy.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false); }
                catch (Exception) { /* it never opened */ }
            }
    }
}
