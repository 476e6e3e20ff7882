using System.Text.RegularExpressions;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Storage.Catalog;

namespace Vib3.Tests.Serving;

/// <summary>USING RETRIEVAL end to end on a real converted model (q8_0, 4 experts top-2, 4 bundle pages per expert):
/// CREATE INDEX, the files it writes, vib3_indexes, reopening, corruption, and generation through the engine's
/// continuous batch, alone and mixed with router-routed sequences.</summary>
public sealed partial class RetrievalTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public RetrievalTests() => _data = ServingModel.Convert(_dir, expertHidden: 128);

    public void Dispose() => _dir.Dispose();

    private Vib3Engine Engine() => new(new EngineOptions(_data, 64L << 20));

    private string IndexDir => PageIndexFolder.Dir(new ModelCatalog(_data).ModelDir("m"));

    /// <summary>Runs one statement and returns its rows.</summary>
    private static async Task<(string Tag, List<object?[]> Rows)> RunAsync(Session session, string sql)
    {
        StatementResult? result = null;
        await foreach (var r in session.ExecuteAsync(sql)) result = r; // one statement per call here
        var rows = new List<object?[]>();
        await foreach (var row in result!.Rows) rows.Add(row);
        return (result.CommandTag, rows);
    }

    private static async Task<string> TextAsync(Session session, string sql) => (string)(await RunAsync(session, sql)).Rows[0][0]!;

    private static async Task<string> ExplainAsync(Session session, string sql) =>
        string.Join("\n", (await RunAsync(session, sql)).Rows.Select(r => (string)r[0]!));

    [Fact]
    public async Task Retrieval_without_an_index_is_refused_naming_create_index()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "GENERATE 'a' FROM MODEL m USING RETRIEVAL k=2"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("CREATE INDEX ON MODEL m", e.Message);
    }

    /// <summary>A model named as `vib3 models` prints it (hyphens, digits, a dot) is named unquoted in every statement,
    /// and the statement vib3's refusal suggests runs as printed.</summary>
    [Fact]
    public async Task An_unquoted_hyphenated_model_name_works_and_the_hint_runs_as_printed()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, $"CREATE MODEL mix-8x7b.v2 FROM '{_dir.Sub("hf")}' WITH (dtype = 'q8_0', page_rows = 32)");
        await RunAsync(session, "USE MODEL mix-8x7b.v2");
        Assert.NotEmpty(await TextAsync(session, "GENERATE 'one two' MAX_TOKENS 4"));
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "GENERATE 'a' FROM MODEL mix-8x7b.v2 USING RETRIEVAL"));
        var hint = Regex.Match(e.Message, @"run (CREATE INDEX ON MODEL \S+) first").Groups[1].Value;
        Assert.Equal("CREATE INDEX ON MODEL mix-8x7b.v2", hint);
        await RunAsync(session, hint);
        Assert.NotEmpty(await TextAsync(session, "GENERATE 'a' FROM MODEL mix-8x7b.v2 USING RETRIEVAL MAX_TOKENS 4"));
        await RunAsync(session, "DROP MODEL mix-8x7b.v2");
    }

    [Fact]
    public async Task Router_aware_retrieval_runs_from_the_language_and_keeps_to_the_router_s_experts()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, "CREATE INDEX ON MODEL m");
        var explain = await ExplainAsync(session, "EXPLAIN ANALYZE GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=3 experts=1 prior=1 MAX_TOKENS 5");
        Assert.Contains("among the router's top-1 experts' pages, ranked by key score + 1 · ln p(expert)", explain);
        // Every token's pages come from one expert (its router's first): per layer, one touched expert per token, half
        // of what the router's top-2 touches over the same tokens.
        var router = await ExplainAsync(session, "EXPLAIN ANALYZE GENERATE 'the cat' FROM MODEL m USING ROUTER MAX_TOKENS 5");
        Assert.Equal(Tokens(router), Tokens(explain));
        Assert.Equal(ExpertsTouched(router).Select(n => n / 2), ExpertsTouched(explain));

        static string Tokens(string analyze) => Regex.Match(analyze, @"tokens: \d+ prompt, \d+ generated").Value;
        static int[] ExpertsTouched(string analyze) => Regex.Matches(analyze, @"layer \d+ experts: ((?:\d+x\d+ ?)+)")
            .Select(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Sum(c => int.Parse(c.Split('x')[1])))
            .ToArray();
    }

    [Fact]
    public async Task Create_model_with_an_index_builds_it_after_converting_and_a_bad_key_name_converts_nothing()
    {
        var source = Path.Combine(_dir.Path, "hf");
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, $"CREATE MODEL n FROM '{source}' WITH (index = 'bogus')"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("invalid index at line 1:", e.Message); // refused by the parser, before any conversion
        Assert.False(new ModelCatalog(_data).Exists("n"));

        var (tag, _) = await RunAsync(session, $"CREATE MODEL n FROM '{source}' WITH (page_rows = 32, index = 'gate_up')");
        Assert.StartsWith("CREATE MODEL ", tag);
        var (_, indexes) = await RunAsync(session, "SELECT layer, keys, kind FROM vib3_indexes WHERE model = 'n' ORDER BY layer");
        Assert.Equal([[0L, "gate_up", "hnsw"], [1L, "gate_up", "hnsw"]], indexes);
        Assert.NotEmpty(await TextAsync(session, "GENERATE 'the cat' FROM MODEL n USING RETRIEVAL k=3 MAX_TOKENS 4"));
    }

    [Fact]
    public async Task Hnsw_options_build_a_graph_per_layer_and_bad_ones_are_refused_before_anything_is_written()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "CREATE INDEX ON MODEL m WITH (m = 1)"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("HnswOptions.M", e.Message);
        Assert.False(Directory.Exists(IndexDir));

        var (_, rows) = await RunAsync(session, "CREATE INDEX ON MODEL m WITH (m = 2, ef_construction = 16)");
        Assert.All(rows, r => Assert.Equal("hnsw m=2 ef_construction=16", r[6]));
        Assert.Equal(["layer-000.hnsw", "layer-000.keys", "layer-000.neurons", "layer-001.hnsw", "layer-001.keys", "layer-001.neurons"],
            Directory.GetFiles(IndexDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using (var file = File.OpenRead(Path.Combine(IndexDir, "layer-001.hnsw")))
        {
            var graph = Vib3.Index.HnswIndex.Load(file, "layer-001.hnsw");
            Assert.Equal((16, 64, 2), (graph.Count, graph.Dimensions, graph.M));
        }
        // 16 keys a layer: a scan (16) beats the graph at ef 64 (~256 at twice a scan's cost); at k 1, ef 1 the graph
        // wins (~4). Both generate.
        var (_, explain) = await RunAsync(session, "EXPLAIN GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=1 ef=1");
        Assert.Contains(explain, r => ((string)r[0]!).Contains("HNSW M=2 ef=1: ~4 distance computations at ~2x a scan's, a scan 16"));
        Assert.NotEmpty(await TextAsync(session, "GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=1 ef=1 MAX_TOKENS 6"));
        Assert.NotEmpty(await TextAsync(session, "GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=3 MAX_TOKENS 6"));
    }

    [Fact]
    public async Task Create_index_writes_a_file_per_layer_listed_by_vib3_indexes_and_reopening_reuses_them()
    {
        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            var (tag, rows) = await RunAsync(session, "CREATE INDEX ON MODEL m WITH (keys = 'mean_gate', metric = 'cosine')");
            Assert.Equal("CREATE INDEX 2", tag);
            Assert.Equal([0L, 1L], rows.Select(r => r[1]));
            var (_, indexes) = await RunAsync(session, "SELECT model, layer, pages, dims, keys, metric, kind, m, neuron_keys, bytes FROM vib3_indexes ORDER BY layer");
            Assert.Equal(2, indexes.Count);
            var expectedBytes = PageKeyFile.HeaderBytes + 16 * 64 * 4 + 8;
            // The default neuron keys: q4_0 gate and up rows (36 bytes each for 64 values) and a weight for each of 4 experts x 128 neurons.
            var neuronBytes = NeuronKeyFile.HeaderBytes + 4 * 128 * (2 * 36 + 4) + 8;
            Assert.All(indexes, r => Assert.Equal(new object?[] { "m", r[1], 16L, 64L, "mean_gate", "cosine", "hnsw", 16L, "gate_up_q4_0",
                expectedBytes + neuronBytes + new FileInfo(Path.Combine(IndexDir, $"layer-{r[1]:D3}.hnsw")).Length }, r));
        }
        var files = Directory.GetFiles(IndexDir).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["layer-000.hnsw", "layer-000.keys", "layer-000.neurons", "layer-001.hnsw", "layer-001.keys", "layer-001.neurons"],
            files.Select(Path.GetFileName));
        var written = files.Select(File.GetLastWriteTimeUtc).ToArray();
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetDirectoryName(IndexDir)!),
            d => Path.GetFileName(d).StartsWith("index.", StringComparison.Ordinal)); // no staging or old index left behind

        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            var text = await TextAsync(session, "GENERATE 'the cat' FROM MODEL m USING RETRIEVAL k=3 MAX_TOKENS 8");
            Assert.NotEmpty(text);
        }
        Assert.Equal(written, files.Select(File.GetLastWriteTimeUtc)); // loaded, not rebuilt
    }

    [Theory]
    [InlineData(false, 100)]  // a page key flipped
    [InlineData(true, 100)]   // a neuron key flipped
    [InlineData(true, -1)]    // a neuron key file cut short
    public async Task A_corrupt_keys_file_is_data_corrupted_naming_the_file(bool neurons, int at)
    {
        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            await RunAsync(session, "CREATE INDEX ON MODEL m");
        }
        var path = Path.Combine(IndexDir, neurons ? NeuronKeyFile.FileName(1) : PageKeyFile.FileName(1));
        var bytes = File.ReadAllBytes(path);
        if (at < 0) bytes = bytes[..^16];
        else bytes[(neurons ? NeuronKeyFile.HeaderBytes : PageKeyFile.HeaderBytes) + at] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "GENERATE 'a' FROM MODEL m USING RETRIEVAL k=2 MAX_TOKENS 4"));
            Assert.Equal(SqlState.DataCorrupted, e.SqlState);
            Assert.Contains(path, e.Message);
            Assert.NotEmpty(await TextAsync(session, "GENERATE 'a' FROM MODEL m USING ROUTER MAX_TOKENS 4")); // the router still works
        }
    }

    [Fact]
    public async Task Retrieval_generates_text_reading_fewer_expert_pages_than_the_router()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, "CREATE INDEX ON MODEL m");
        const string Tail = "FROM MODEL m MAX_TOKENS 16";
        var router = await ExplainAsync(session, $"EXPLAIN ANALYZE GENERATE 'one two three' {Tail} USING ROUTER");
        var retrieval = await ExplainAsync(session, $"EXPLAIN ANALYZE GENERATE 'one two three' {Tail} USING RETRIEVAL k=2");
        Assert.Contains("routing: RETRIEVAL k=2", retrieval);
        Assert.Contains("16 generated", retrieval);
        var (routerPages, retrievalPages) = (ExpertPageReads(router), ExpertPageReads(retrieval));
        Assert.True(retrievalPages < routerPages, $"retrieval read {retrievalPages} expert pages, the router {routerPages}");
        Assert.NotEmpty(await TextAsync(session, $"GENERATE 'one two three' {Tail} USING RETRIEVAL k=2"));
    }

    [Fact]
    public async Task Router_first_retrieval_reads_part_of_the_router_s_pages_plus_neuron_keys_and_budget_1_is_the_router()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, "CREATE INDEX ON MODEL m WITH (neuron_keys = 'gate_q4_0')");
        Assert.True(File.Exists(Path.Combine(IndexDir, NeuronKeyFile.FileName(0))), "CREATE INDEX wrote no neuron keys");
        const string Tail = "FROM MODEL m MAX_TOKENS 12";
        var router = await ExplainAsync(session, $"EXPLAIN ANALYZE GENERATE 'one two three' {Tail} USING ROUTER");
        var half = await ExplainAsync(session, $"EXPLAIN ANALYZE GENERATE 'one two three' {Tail} USING RETRIEVAL budget=0.5");
        Assert.Contains("routing: RETRIEVAL router-first: the router's top-2 of 4", half);
        Assert.Contains("neuron keys gate_q4_0", half);
        // Each row reads half its experts' pages (4 bundles each, top-2: 4 of 8) and the keys of its 2 experts' neurons.
        var grid = new ModelCatalog(_data).Get("m").ExpertGrids[0];
        var perRow = Regex.Matches(half, @"a row read ([\d.]+ \w+) of pages \+ ([\d.]+ \w+) of neuron keys").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        Assert.Equal(4, perRow.Count); // an Experts line a layer, under its layer's line (which sums its operators)
        Assert.All(perRow, r => Assert.Equal((ByteSize.Format(4 * grid.BundleBytes(grid.BundleRows)),
            ByteSize.Format(2L * grid.ExpertHidden * (DType.Q4_0.ByteCount(grid.Dim) + 4))), r));
        Assert.True(ExpertPageReads(half) < ExpertPageReads(router), $"router-first read {ExpertPageReads(half)} expert pages, the router {ExpertPageReads(router)}");
        // and says what that saves against exact routing's 8 pages, per Experts line and per layer
        var exact = ByteSize.Format(8 * grid.BundleBytes(grid.BundleRows));
        var saved = 1 - (4 * grid.BundleBytes(grid.BundleRows) + 2.0 * grid.ExpertHidden * (DType.Q4_0.ByteCount(grid.Dim) + 4)) / (8 * grid.BundleBytes(grid.BundleRows));
        Assert.Equal(4, Regex.Matches(half, $@"of neuron keys, {saved * 100:0}% less than exact routing's {Regex.Escape(exact)}").Count);

        var plan = await ExplainAsync(session, $"EXPLAIN GENERATE 'one two three' {Tail} USING RETRIEVAL");
        Assert.Contains("RETRIEVAL router-first (the default)", plan);
        Assert.NotEmpty(await TextAsync(session, $"GENERATE 'one two three' {Tail} USING RETRIEVAL mass=0.8 k=3"));
        Assert.Equal(await TextAsync(session, $"GENERATE 'one two three' {Tail} USING ROUTER"),
            await TextAsync(session, $"GENERATE 'one two three' {Tail} USING RETRIEVAL budget=1"));
    }

    /// <summary>CREATE INDEX ... WITH (calibration = ...) runs the text through the model and writes calibration.json
    /// with the index; USING RETRIEVAL then plans each layer's own mass and EXPLAIN says what each layer is expected to
    /// read; a corrupt calibration is one XX001 line (the router still runs); a missing text leaves the index as it was.</summary>
    [Fact]
    public async Task A_calibrated_index_gives_each_layer_its_mass_and_explain_its_expected_pages()
    {
        var text = _dir.Sub("calibration.txt");
        File.WriteAllText(text, string.Join(" ", Enumerable.Repeat("the cat sat on the mat and the dog ran after it.", 60)));
        var calibration = Path.Combine(IndexDir, RetrievalCalibrationFile.FileName);
        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            await RunAsync(session, $"CREATE INDEX ON MODEL m WITH (calibration = '{text}', calibration_tokens = 300)");
            Assert.True(File.Exists(calibration), "CREATE INDEX wrote no calibration");
            Assert.Equal(300, RetrievalCalibrationFile.Read(calibration).Tokens);
            var (_, rows) = await RunAsync(session, "SELECT layer, calibration, calibrated_mass, expected_pages FROM vib3_indexes ORDER BY layer");
            Assert.Equal(2, rows.Count);
            Assert.All(rows, r => Assert.Equal("300 tokens of calibration.txt", r[1]));
            Assert.All(rows, r => Assert.InRange((double)r[2]!, 0.5, 1));
            Assert.All(rows, r => Assert.InRange((double)r[3]!, 0.01, 1));
            var plan = await ExplainAsync(session, "EXPLAIN GENERATE 'one two' FROM MODEL m USING RETRIEVAL");
            Assert.Matches(@"holding each layer's calibrated mass \([\d.]+ / [\d.]+\)", plan);
            Assert.Contains("(calibrated on 300 tokens of calibration.txt)", plan);
            Assert.Equal(2, Regex.Matches(plan, @"those holding [\d.]+ \(this layer's calibrated mass\)").Count);
            var at08 = await ExplainAsync(session, "EXPLAIN GENERATE 'one two' FROM MODEL m USING RETRIEVAL mass=0.8");
            Assert.Equal(2, Regex.Matches(at08, @"calibrated: \d+% of them expected, leaving [\d.]+% of the experts' output").Count);
            Assert.NotEmpty(await TextAsync(session, "GENERATE 'one two' FROM MODEL m USING RETRIEVAL MAX_TOKENS 6"));

            var missing = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, $"CREATE INDEX ON MODEL m WITH (calibration = '{_dir.Sub("none.txt")}')"));
            Assert.Equal(SqlState.UndefinedObject, missing.SqlState);
            Assert.Equal($"{_dir.Sub("none.txt")}: no such calibration file", missing.Message);
            Assert.True(File.Exists(calibration), "a failed CREATE INDEX removed the index it would have replaced");
        }
        File.WriteAllText(calibration, "{\"file\": ");
        await using (var engine = Engine())
        {
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "GENERATE 'a' FROM MODEL m USING RETRIEVAL MAX_TOKENS 4"));
            Assert.Equal(SqlState.DataCorrupted, e.SqlState);
            Assert.StartsWith($"{calibration}: the retrieval calibration is corrupt: ", e.Message);
            var (_, rows) = await RunAsync(session, "SELECT calibration, calibrated_mass FROM vib3_indexes");
            Assert.All(rows, r => Assert.StartsWith($"unreadable (XX001): {calibration}: the retrieval calibration is corrupt", (string)r[0]!));
            Assert.All(rows, r => Assert.Null(r[1]));
            Assert.NotEmpty(await TextAsync(session, "GENERATE 'a' FROM MODEL m USING ROUTER MAX_TOKENS 4"));
        }
    }

    /// <summary>Sum over the per-layer lines of "pages: H hits, J joined, M from disk".</summary>
    private static long ExpertPageReads(string explain) =>
        PageReads().Matches(explain).Sum(m => long.Parse(m.Groups[1].Value) + long.Parse(m.Groups[2].Value) + long.Parse(m.Groups[3].Value));

    [GeneratedRegex(@"pages: (\d+) hits, (\d+) joined, (\d+) from disk")]
    private static partial Regex PageReads();

    [Fact]
    public async Task When_k_covers_the_top_k_experts_retrieval_falls_back_to_exact_routing()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, "CREATE INDEX ON MODEL m");
        var plan = await ExplainAsync(session, "EXPLAIN GENERATE 'hello world' FROM MODEL m USING RETRIEVAL k=8");
        Assert.Contains("exact-routing fallback: RETRIEVAL k=8", plan);
        var router = await TextAsync(session, "GENERATE 'hello world' FROM MODEL m USING ROUTER MAX_TOKENS 24");
        var fallback = await TextAsync(session, "GENERATE 'hello world' FROM MODEL m USING RETRIEVAL k=8 MAX_TOKENS 24");
        Assert.Equal(router, fallback);
    }

    private static readonly string[] Prompts = ["a", "the cat", "hello world", "zz", "one two three", "q"];

    [Fact]
    public async Task A_batch_mixing_retrieval_and_router_sequences_gives_each_its_tokens_alone()
    {
        await using var engine = Engine();
        using (var session = engine.OpenSession(ClientAccess.LocalAdministrator)) await RunAsync(session, "CREATE INDEX ON MODEL m");
        // Even prompts by retrieval (k=3 of 16 pages), odd ones by the router.
        Query.Planning.GenerationPlan Plan(int i) => engine.Plan(new Generate(new StringLiteral(Prompts[i]), new GenerateOptions
        {
            Model = new Identifier("m"), MaxTokens = 20,
            Routing = i % 2 == 0 ? RoutingMode.Retrieval : RoutingMode.Router, K = i % 2 == 0 ? 3 : null,
        }));
        var alone = new List<string>();
        for (var i = 0; i < Prompts.Length; i++) alone.Add(await ReadAsync(await engine.Generations.StartAsync(Plan(i), ChoiceOptions.Default)));

        var streams = await Task.WhenAll(Enumerable.Range(0, Prompts.Length).Select(i => engine.Generations.StartAsync(Plan(i), ChoiceOptions.Default)));
        var together = await Task.WhenAll(streams.Select(ReadAsync));
        Assert.Equal(alone, together);
        var stats = Assert.Single(engine.Generations.Stats());
        Assert.True(stats.BatchRows > stats.Steps, "some steps held several sequences");
    }

    private static async Task<string> ReadAsync(GenerationStream stream)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var e in stream.ReadAllAsync())
            if (e is TextDelta d) text.Append(d.Text);
        return text.ToString();
    }

    [Fact]
    public async Task Drop_index_removes_it_and_retrieval_is_refused_again()
    {
        await using var engine = Engine();
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        await RunAsync(session, "CREATE INDEX ON MODEL m");
        Assert.Equal("DROP INDEX", (await RunAsync(session, "DROP INDEX ON MODEL m")).Tag);
        Assert.False(Directory.Exists(IndexDir));
        Assert.Empty((await RunAsync(session, "SELECT * FROM vib3_indexes")).Rows);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, "GENERATE 'a' FROM MODEL m USING RETRIEVAL k=2"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Equal("DROP INDEX", (await RunAsync(session, "DROP INDEX IF EXISTS ON MODEL m")).Tag);
    }
}
