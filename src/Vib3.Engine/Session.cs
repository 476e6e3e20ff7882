using System.Globalization;
using System.Runtime.CompilerServices;
using Vib3.Convert;
using Vib3.Core;
using Vib3.Engine.Serving;
using Vib3.Engine.Settings;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Query;
using Vib3.Query.Execution;
using Vib3.Query.Planning;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>One client's state: its settings (SET; USE MODEL sets the model) and what it is running, which
/// vib3_sessions shows to every session. Statements run one at a time, in order; generations go to the engine's
/// shared batches.</summary>
public sealed class Session : IDisposable
{
    /// <summary>Characters of a statement's text that vib3_sessions shows, as PostgreSQL's track_activity_query_size.</summary>
    public const int MaxShownStatementChars = 1024;

    /// <summary>SHOW ALL's columns, as PostgreSQL's (name, setting, description) plus pg_settings' source.</summary>
    public static readonly IReadOnlyList<ColumnDef> ShowAllColumns =
        [new("name", ColumnType.Text), new("setting", ColumnType.Text), new("source", ColumnType.Text), new("description", ColumnType.Text)];

    private readonly Vib3Engine _engine;
    private readonly HashSet<GenerationStream> _generating = [];
    private volatile string? _statement;
    private volatile bool _active;

    internal Session(Vib3Engine engine, ClientAccess access, long id)
    {
        _engine = engine;
        Access = access;
        Id = id;
        Settings = new SessionSettings(engine);
    }

    /// <summary>Who the client is and what it may do (administer; read files outside the import directories).</summary>
    public ClientAccess Access { get; }

    /// <summary>The engine-wide number of this session, in the order sessions were opened.</summary>
    public long Id { get; }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    internal SessionSettings Settings { get; }

    /// <summary>The model GENERATE uses without FROM MODEL (USE MODEL, SET model); null when none is chosen.</summary>
    public string? CurrentModel => Settings.Model;

    /// <summary>The application_name a client gave when it connected (psql's PGAPPNAME, Npgsql's Application Name),
    /// kept as PostgreSQL keeps it: clipped to its longest length, source "client", what RESET returns to.</summary>
    public void SetApplicationName(string name) =>
        Settings.SetFromClient(SettingRegistry.ApplicationName, name.Length <= SettingRegistry.MaxTextChars ? name : name[..SettingRegistry.MaxTextChars]);

    /// <summary>True while a statement runs (its rows included); the text of the running or last statement, clipped.</summary>
    internal (bool Active, string? Statement) Activity => (_active, _statement);

    /// <summary>Where long statements report progress while they run (CREATE INDEX: each layer as it is indexed);
    /// null: nowhere. Called on the statement's thread; the REPL and CLI print these lines to stderr.</summary>
    public Action<string>? Progress { get; set; }

    /// <summary>Parses <paramref name="sql"/> and runs its statements in order, yielding each one's result.</summary>
    public IAsyncEnumerable<StatementResult> ExecuteAsync(
        string sql, IReadOnlyList<object?>? parameters = null, CancellationToken ct = default) =>
        RunAllAsync(sql, null, parameters, ct);

    /// <summary>Runs statements the caller already parsed from <paramref name="sql"/> (a Postgres Parse message, or the
    /// slot check of a simple query): parsing a large statement costs many times its text, so it is done once.</summary>
    public IAsyncEnumerable<StatementResult> ExecuteAsync(
        string sql, IReadOnlyList<Statement> parsed, IReadOnlyList<object?>? parameters, CancellationToken ct) =>
        RunAllAsync(sql, parsed, parameters, ct);

    private async IAsyncEnumerable<StatementResult> RunAllAsync(string sql, IReadOnlyList<Statement>? parsed,
        IReadOnlyList<object?>? parameters, [EnumeratorCancellation] CancellationToken ct)
    {
        _statement = sql.Length <= MaxShownStatementChars ? sql : sql[..MaxShownStatementChars];
        _active = true;
        try
        {
            foreach (var statement in parsed ?? StatementParser.Parse(sql))
            {
                Privileges.Check(statement, Access); // before the statement looks anything up
                yield return await RunAsync(statement, parameters, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _active = false;
        }
    }

    private Task<StatementResult> RunAsync(Statement s, IReadOnlyList<object?>? parameters, CancellationToken ct) => s switch
    {
        ShowModels => Task.FromResult(Query(ShowModelsQuery, null, "SHOW")),
        UseModel u => Task.FromResult(Use(u)),
        SetVariable v => Task.FromResult(Set(v)),
        ResetVariable r => Task.FromResult(Reset(r.Name.Name)),
        ResetAll => Task.FromResult(ResetEverything()),
        ShowVariable v => Task.FromResult(Show(v.Name.Name)),
        ShowAll => Task.FromResult(StatementResult.Table("SHOW", ShowAllColumns, Settings.All())),
        Describe d => Task.FromResult(Describer.Describe(_engine, new SystemTables(_engine, this), d)),
        CreateModel c => CreateAsync(c, ct),
        DropModel d => DropAsync(d),
        CreateIndex c => IndexStatements.CreateAsync(_engine, c, Progress, ct),
        DropIndex d => Task.FromResult(IndexStatements.Drop(_engine, d)),
        Explain { Analyze: false } e => Task.FromResult(ExplainPlan(e.Statement, parameters)),
        Explain { Analyze: true } e => ExplainAnalyzeAsync(e.Statement, parameters, ct),
        Select q => Task.FromResult(Query(q, parameters)),
        ShowTiers { ByLayer: true } => Task.FromResult(FromTable(new SystemTables(_engine, this).ExpertTiers())),
        ShowTiers => Task.FromResult(FromTable(new SystemTables(_engine, this).Tiers())),
        ShowExperts x => Task.FromResult(FromTable(new SystemTables(_engine, this).Experts(x.Model?.Name ?? CurrentModel, x.Layer))),
        GenerationStatement g => GenerateAsync(g, parameters, ct),
        _ => throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{s.GetType().Name} is not supported yet (at line {s.Position.Line}:{s.Position.Column})"),
    };

    /// <summary>SHOW MODELS is this SELECT on vib3_models: every model in the catalog, one whose manifest is unreadable
    /// or corrupt with only its name and, in error, why (so one broken store neither hides nor breaks the others).</summary>
    private static readonly Select ShowModelsQuery = (Select)StatementParser.Parse(
        "SELECT name, family, layers, experts, top_k, dtype, parameters, active_parameters, bytes, pages, error FROM vib3_models")[0];

    /// <param name="tag">The command tag: SELECT n, or SHOW for a SHOW statement answered by a query.</param>
    private StatementResult Query(Select q, IReadOnlyList<object?>? parameters, string? tag = null)
    {
        var tables = new SystemTables(_engine, this);
        var result = SelectEvaluator.Evaluate(q, tables.Resolve, parameters,
            (name, _) => name == "version" ? "vib3 0.1 (PostgreSQL-compatible surface)" : SelectEvaluator.UnknownFunction);
        return StatementResult.Table(tag ?? $"SELECT {result.Rows.Count}", result.Columns, result.Rows);
    }

    private static StatementResult FromTable(Table t) => StatementResult.Table("SHOW", t.Columns, t.Rows.ToList());

    /// <summary>Router statistics of an open model (every sequence it ran), or null if it is not open.</summary>
    internal RoutingStats? Routing(string model) =>
        _engine.Generations.OpenModel(model)?.Forward.Routing;

    /// <summary>The page stores of the models the engine has open, and the matrices each holds in VRAM (null: none).</summary>
    internal IEnumerable<(string Model, ModelWeights Weights, Models.Device.DeviceMatrices? Device)> OpenModels() =>
        _engine.Generations.Open().OrderBy(m => m.Weights.Manifest.Name, StringComparer.Ordinal)
             .Select(m => (m.Weights.Manifest.Name, m.Weights, m.Forward.Device));

    private StatementResult Use(UseModel u)
    {
        if (!_engine.Catalog.Exists(u.Name.Name))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{u.Name.Name}\" does not exist (at line {u.Position.Line}:{u.Position.Column})");
        Settings.Set(SettingRegistry.Model, u.Name.Name);
        return StatementResult.Command("USE MODEL");
    }

    private StatementResult Set(SetVariable v)
    {
        Settings.Set(v.Name.Name, v.Value switch
        {
            StringLiteral s => s.Value,
            IntegerLiteral i => i.Value.ToString(CultureInfo.InvariantCulture),
            DecimalLiteral d => d.Value.ToString(CultureInfo.InvariantCulture),
            BooleanLiteral b => b.Value ? "on" : "off",
            var other => throw new Vib3Exception(SqlState.InvalidParameterValue, $"SET {v.Name.Name}: unsupported value {other}"),
        });
        return StatementResult.Command("SET");
    }

    /// <summary>RESET name: back to the value the client connected with, else the default ("model": none chosen).</summary>
    private StatementResult Reset(string name)
    {
        Settings.Reset(name);
        return StatementResult.Command("RESET");
    }

    /// <summary>RESET ALL (and DISCARD ALL from pooled clients): every setting SET changed, the chosen model included.</summary>
    private StatementResult ResetEverything()
    {
        Settings.ResetAll();
        return StatementResult.Command("RESET");
    }

    private StatementResult Show(string name) =>
        StatementResult.Table("SHOW", [new(name, ColumnType.Text)], [[Settings.Get(name)]]);

    private async Task<StatementResult> CreateAsync(CreateModel c, CancellationToken ct)
    {
        var converter = new ModelConverter(_engine.Catalog, _engine.Descriptors);
        // A remote client names a file under an import directory (resolved here, before anything is opened).
        var path = Access.Local ? c.Path : _engine.Imports.Resolve(c.Path);
        var request = new ConversionRequest(path, c.Name.Name, c.DType is { } d ? DTypes.Parse(d) : null, c.PageRows, _engine.Options.RamBudgetBytes, c.TokenizerFallback);
        var m = converter.Convert(request, null, ct);
        // The model is published before its index is built: a failure here leaves a usable model without an index,
        // which CREATE INDEX can build later.
        if (c.Index is { } keys)
            await IndexStatements.CreateAsync(_engine, new CreateIndex(c.Name, keys, null, null, null) { Position = c.Position }, Progress, ct).ConfigureAwait(false);
        return StatementResult.Command($"CREATE MODEL {m.PageCount}");
    }

    private async Task<StatementResult> DropAsync(DropModel d)
    {
        ModelCatalog.ValidateName(d.Name.Name); // a name with '/' in it must not probe the disk for folders
        if (!_engine.Catalog.Exists(d.Name.Name) && !Directory.Exists(_engine.Catalog.ModelDir(d.Name.Name)))
        {
            if (d.IfExists) return StatementResult.Command("DROP MODEL");
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{d.Name.Name}\" does not exist");
        }
        await _engine.Generations.CloseAsync(d.Name.Name).ConfigureAwait(false);
        _engine.Catalog.Drop(d.Name.Name);
        // No session is left on a model that no longer exists (vib3_sessions would list it).
        foreach (var s in _engine.Sessions)
            if (string.Equals(s.CurrentModel, d.Name.Name, StringComparison.OrdinalIgnoreCase)) s.Settings.Reset(SettingRegistry.Model);
        return StatementResult.Command("DROP MODEL");
    }

    /// <summary>The session's settings fill the clauses the statement leaves out.</summary>
    private GenerationPlan Plan(GenerationStatement g, IReadOnlyList<object?>? parameters) =>
        Planner.Plan(g, _engine.PlanningContext(CurrentModel, parameters) with
        {
            DefaultSampling = Settings.Sampling, DefaultMaxTokens = Settings.MaxTokens,
        });

    private StatementResult ExplainPlan(GenerationStatement g, IReadOnlyList<object?>? parameters)
    {
        var plan = Plan(g, parameters);
        var text = PlanPrinter.Print(plan, ChatTemplateNote.For(_engine, plan, CancellationToken.None));
        return StatementResult.Table("EXPLAIN", [new("QUERY PLAN", ColumnType.Text)],
            text.TrimEnd('\n').Split('\n').Select(line => new object?[] { line }));
    }

    /// <summary>Runs the generation and reports the plan with what each operator did for it (time, steps, rows, pages
    /// by tier, bytes, waits: the statement's own rows only, whatever runs beside it), then the totals, the store's
    /// prefetching over the same time, and per layer the experts the router chose.</summary>
    private async Task<StatementResult> ExplainAnalyzeAsync(GenerationStatement g, IReadOnlyList<object?>? parameters, CancellationToken ct)
    {
        var plan = Plan(g, parameters);
        var served = await _engine.Generations.GetAsync(plan.Model, ct).ConfigureAwait(false);
        var store = served.Weights.Store;
        var evictionsBefore = store.Stats.Evictions;
        var vramBefore = served.Forward.Device?.Experts?.Counts ?? default;
        var (prefetchBefore, predictionBefore) = (store.Prefetches, (served.Forward.Prediction.Decisions, served.Forward.Prediction.Predicted));
        var outcome = new GenerationOutcome();
        var (routing, actuals) = await DrainAsync(Pieces(plan, outcome, new ChoiceOptions { Analyze = true }, ct)).ConfigureAwait(false);
        var after = store.Stats;
        var (prefetchAfter, predictionAfter) = (store.Prefetches, (served.Forward.Prediction.Decisions, served.Forward.Prediction.Predicted));

        var lines = PlanPrinter.Print(plan, ChatTemplateNote.For(_engine, plan, ct), actuals).TrimEnd('\n').Split('\n').ToList();
        lines.Add("ANALYZE");
        lines.Add("  (actual: the operator's time in the steps that ran this statement's rows (shared with other statements' rows in the same steps), " +
                  "those steps (calls) and rows; pages it read for them by where each was found: RAM (hit), a read already under way (joined), disk; their bytes; " +
                  "times compute found no page ready and how long; with a device, where the operator's matrix products ran, and with a VRAM expert cache, " +
                  "where Experts ran its pages: resident on the device, uploaded to it, or on the CPU. A page read once for rows of several statements " +
                  "counts in each.)");
        lines.Add(FormattableString.Invariant(
            $"  tokens: {outcome.PromptTokens} prompt, {outcome.GeneratedTokens} generated, finish {outcome.FinishReason}"));
        lines.Add(FormattableString.Invariant(
            $"  time: total {outcome.Elapsed.TotalMilliseconds:0.0} ms, first token {outcome.TimeToFirstToken.TotalMilliseconds:0.0} ms, decode {outcome.DecodeTokensPerSecond:0.0} tok/s"));
        lines.Add(Phase(actuals, StepPhase.Prefill, "prefill", "prompt rows"));
        lines.Add(Phase(actuals, StepPhase.Decode, "decode", "tokens"));
        var total = actuals.Total;
        var hitRate = total.Pages > 0 ? 100.0 * total.PagesHit / total.Pages : 0;
        var (resident, capacity) = (Vib3.Core.ByteSize.Format(after.ResidentBytes), Vib3.Core.ByteSize.Format(after.CapacityBytes));
        lines.Add(FormattableString.Invariant(
            $"  ram tier: {total.PagesHit} page hits, {total.PagesJoined} joined, hit rate {hitRate:0.0}%; the store: {after.Evictions - evictionsBefore} evictions, {resident} resident of {capacity}"));
        lines.Add(FormattableString.Invariant(
            $"  disk tier: {total.PagesFromDisk} page reads ({Vib3.Core.ByteSize.Format(total.Reads.DiskBytes)}) and {total.Reads.Prefetched} read ahead ({Vib3.Core.ByteSize.Format(total.Reads.PrefetchedBytes)}) for this statement; {Vib3.Core.ByteSize.Format(total.Bytes)} of pages read in all"));
        lines.Add(FormattableString.Invariant(
            $"  page waits: compute stalled {total.Waits} times for {total.WaitTime.TotalMilliseconds:0.0} ms ({(outcome.Elapsed.TotalSeconds > 0 ? 100 * total.WaitTime.TotalSeconds / outcome.Elapsed.TotalSeconds : 0):0.0}% of the total time) with no page ready"));
        if (served.Forward.Device is { Failure: { } failure })
            lines.Add($"  vram tier: the device was given up ({failure}); the CPU ran every operator since");
        else if (served.Forward.Device is { } device)
        {
            var (kv, attended) = (device.Kv, total.Products);
            var caches = FormattableString.Invariant(
                $"attention over KV caches in VRAM in {attended.AttendedOnDevice} of {attended.AttendedOnDevice + attended.AttendedOnCpu} layer steps (the others in RAM); {kv.Count} sequences' caches in VRAM now ({Vib3.Core.ByteSize.Format(kv.Bytes)})");
            if (device.Experts is not { } cache)
                lines.Add($"  vram tier: {caches}; the experts ran on the CPU");
            else
            {
                var v = total.Vram;
                var onDevice = v.Hits + v.Uploads + v.CpuPages == 0 ? 0 : 100.0 * (v.Hits + v.Uploads) / (v.Hits + v.Uploads + v.CpuPages);
                lines.Add(FormattableString.Invariant(
                    $"  vram tier: expert pages {v.Hits} resident, {v.Uploads} uploaded, {v.CpuPages} computed on the CPU ({onDevice:0.0}% on the device); the cache: {cache.Counts.Evictions - vramBefore.Evictions} evictions, {cache.Resident} of {cache.Slots} slots filled; {caches}"));
            }
        }
        var (issued, used) = (prefetchAfter.Issued - prefetchBefore.Issued, prefetchAfter.Used - prefetchBefore.Used);
        var (decisions, predicted) = (predictionAfter.Decisions - predictionBefore.Decisions, predictionAfter.Predicted - predictionBefore.Predicted);
        lines.Add(FormattableString.Invariant(
            $"  prefetch (the model's, while it ran): {issued} pages read ahead ({Vib3.Core.ByteSize.Format(prefetchAfter.BytesIssued - prefetchBefore.BytesIssued)}), {used} used, {prefetchAfter.Skipped - prefetchBefore.Skipped} skipped for want of room; next-layer experts predicted {(decisions == 0 ? 0 : 100.0 * predicted / decisions):0.0}% of {decisions} choices"));
        var experts = plan.Program.Operators.Where(o => o.Kind == Vib3.Storage.Catalog.OperatorKind.Experts).ToDictionary(o => o.Layer);
        for (var l = 0; l < routing.Layers; l++)
        {
            var counts = Enumerable.Range(0, routing.Experts).Select(e => routing.Selected(l, e)).ToArray();
            lines.Add($"  layer {l} experts: " + string.Join(" ", counts.Select((c, e) => (c, e)).Where(x => x.c > 0)
                .OrderByDescending(x => x.c).ThenBy(x => x.e).Select(x => $"{x.e}x{x.c}")) +
                (experts.TryGetValue(l, out var op) ? ExpertPageReads(actuals[op.Id]) : ""));
        }
        return StatementResult.Table("EXPLAIN", [new("QUERY PLAN", ColumnType.Text)], lines.Select(line => new object?[] { line }));
    }

    /// <summary>"  decode: 11 tokens in 11 steps, 20.0 pages (80.3 KiB) a token, 1.2 ms a token": one phase's totals.</summary>
    private static string Phase(StatementActuals actuals, StepPhase phase, string name, string rowsName)
    {
        var embed = actuals[actuals.Program.Operators[0].Id, phase];
        var sum = actuals.Sum(phase);
        var perRow = Math.Max(1, embed.Rows);
        return FormattableString.Invariant(
            $"  {name}: {embed.Rows} {rowsName} in {embed.Calls} steps; per row {(double)sum.Pages / perRow:0.0} pages ({Vib3.Core.ByteSize.Format(sum.Bytes / perRow)}), {sum.Time.TotalMilliseconds / perRow:0.000} ms");
    }

    /// <summary>"; pages: H hits, J joined, M from disk (hit rate)" for one layer's expert pages over the statement.</summary>
    private static string ExpertPageReads(OperatorFigures f) =>
        FormattableString.Invariant($"; pages: {f.PagesHit} hits, {f.PagesJoined} joined, {f.PagesFromDisk} from disk ({(f.Pages == 0 ? 0 : 100.0 * f.PagesHit / f.Pages):0.0}% hits)") +
        (f.Vram == default ? "" : FormattableString.Invariant($"; vram {f.Vram.Hits} resident, {f.Vram.Uploads} uploaded, {f.Vram.CpuPages} cpu"));

    /// <summary>Reads a generation to its end; returns the experts its tokens chose and its operators' figures.</summary>
    private static async Task<(RoutingStats, StatementActuals)> DrainAsync(GenerationPieces pieces)
    {
        await foreach (var _ in pieces.Text.ConfigureAwait(false)) { }
        return (pieces.Routing(), pieces.Actuals()!);
    }

    /// <summary>A generation's text as it arrives, and (once read to the end) the experts it chose and, when asked,
    /// what each operator did.</summary>
    private sealed record GenerationPieces(IAsyncEnumerable<string> Text, Func<RoutingStats> Routing, Func<StatementActuals?> Actuals);

    private GenerationPieces Pieces(GenerationPlan plan, GenerationOutcome outcome, ChoiceOptions options, CancellationToken ct)
    {
        RoutingStats? routing = null;
        StatementActuals? actuals = null;
        return new GenerationPieces(Text(), () => routing!, () => actuals);

        async IAsyncEnumerable<string> Text()
        {
            var stream = await _engine.Generations.StartAsync(plan, options, ct).ConfigureAwait(false);
            lock (_generating) _generating.Add(stream);
            try
            {
                outcome.PromptTokens = stream.PromptTokens;
                await foreach (var e in stream.ReadAllAsync(ct).ConfigureAwait(false))
                    switch (e)
                    {
                        case TextDelta d when d.Text.Length > 0:
                            yield return d.Text;
                            break;
                        case ChoiceFinished f:
                            outcome.FinishReason = f.FinishReason;
                            outcome.GeneratedTokens = f.CompletionTokens;
                            outcome.TimeToFirstToken = f.TimeToFirstToken;
                            outcome.Elapsed = f.Elapsed;
                            break;
                    }
                routing = stream.Routing;
                actuals = stream.Actuals;
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                lock (_generating) _generating.Remove(stream);
            }
        }
    }

    private async Task<StatementResult> GenerateAsync(GenerationStatement g, IReadOnlyList<object?>? parameters, CancellationToken ct)
    {
        var plan = Plan(g, parameters);
        var outcome = new GenerationOutcome();
        var pieces = Pieces(plan, outcome, ChoiceOptions.Default, ct).Text;
        if (plan.Stream)
            return new StatementResult
            {
                CommandTag = "GENERATE",
                Columns = [new("token", ColumnType.Text)],
                Rows = TokenRows(pieces),
            };
        var text = new System.Text.StringBuilder();
        await foreach (var piece in pieces.ConfigureAwait(false)) text.Append(piece);
        return StatementResult.Table("GENERATE 1",
            [new("text", ColumnType.Text), new("prompt_tokens", ColumnType.Int64), new("completion_tokens", ColumnType.Int64), new("finish_reason", ColumnType.Text)],
            [[text.ToString(), (long)outcome.PromptTokens, (long)outcome.GeneratedTokens, outcome.FinishReason]]);
    }

    private static async IAsyncEnumerable<object?[]> TokenRows(IAsyncEnumerable<string> pieces)
    {
        await foreach (var piece in pieces.ConfigureAwait(false)) yield return [piece];
    }

    /// <summary>Stops this session's generations still running (its client went away) and leaves vib3_sessions.</summary>
    public void Dispose()
    {
        _engine.Forget(this);
        lock (_generating)
        {
            foreach (var stream in _generating) stream.Cancel();
            _generating.Clear();
        }
    }
}
