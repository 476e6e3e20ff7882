using System.Text.Json;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>vib3 query end to end on a small converted model: statements in one session, each result printed.</summary>
public sealed class QueryCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _source;

    private string Data => _dir.Sub("data");

    public QueryCliTests()
    {
        _source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32), "hf");
        var r = Query($"CREATE MODEL m FROM '{_source}' WITH (page_rows = 32)");
        Assert.True(r.ExitCode == 0, r.Error);
    }

    public void Dispose() => _dir.Dispose();

    private CliResult Query(string sql, params string[] extra) => CliRun.Run(Data, ["query", sql, .. extra]);

    private static JsonElement[] Json(CliResult r) =>
        r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [Fact]
    public void Show_models_lists_the_created_model()
    {
        var rows = Json(Query("SHOW MODELS", "--format", "json"))[0].GetProperty("rows");
        Assert.Equal("m", rows[0][0].GetString());
        Assert.Equal("qwen3moe", rows[0][1].GetString());
    }

    [Fact]
    public void Create_index_reports_each_layer_on_stderr_while_stdout_keeps_the_result()
    {
        var r = Query("CREATE INDEX ON MODEL m", "--format", "json");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"CREATE INDEX ON MODEL m: layer 0 \(1 of \d+\), \d+ page keys and a graph in", r.Error);
        Assert.StartsWith("CREATE INDEX ", Json(r)[0].GetProperty("command").GetString());
        Query("DROP INDEX ON MODEL m");
    }

    [Fact]
    public void Generate_returns_text_and_token_counts_and_is_seeded()
    {
        const string sql = "USE MODEL m; GENERATE 'the quick brown fox' MAX_TOKENS 12 TEMPERATURE 0.8 SEED 7";
        var a = Json(Query(sql, "--format", "json"));
        var b = Json(Query(sql, "--format", "json"));
        Assert.Equal("USE MODEL", a[0].GetProperty("command").GetString());
        var row = a[1].GetProperty("rows")[0];
        Assert.Equal(12, row[2].GetInt64());
        Assert.Equal("length", row[3].GetString());
        Assert.Equal(row[0].GetString(), b[1].GetProperty("rows")[0][0].GetString());
    }

    [Fact]
    public void Chat_and_stream_forms_run()
    {
        var chat = Json(Query("GENERATE CHAT (('system', 'be brief'), ('user', 'hi')) FROM MODEL m MAX_TOKENS 4", "--format", "json"));
        Assert.True(chat[0].GetProperty("rows")[0][1].GetInt64() > 6, "the chat template adds tokens around the messages");
        var stream = Json(Query("GENERATE $$streamed$$ FROM MODEL m MAX_TOKENS 6 STREAM", "--format", "json"));
        Assert.Equal("token", stream[0].GetProperty("columns")[0].GetString());
        Assert.True(stream[0].GetProperty("rows").GetArrayLength() >= 1);
    }

    [Fact]
    public void Explain_prints_the_plan_tree()
    {
        var r = Query("EXPLAIN GENERATE 'x' FROM MODEL m", "--format", "csv");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("GENERATE model=m (qwen3moe, 2 layers, f32, 32.00 bits per weight)", r.Output);
        Assert.Contains("Experts", r.Output);
        Assert.Contains("LmHead", r.Output);
    }

    [Fact]
    public void System_tables_show_routing_and_tiers_after_a_generation()
    {
        var ok = Json(Query(
            "USE MODEL m; GENERATE 'hello there' MAX_TOKENS 5; " +
            "SELECT layer, expert, times_selected FROM vib3_experts WHERE layer = 1 ORDER BY expert; SHOW TIERS; " +
            "SELECT name, family FROM vib3_models WHERE name LIKE 'm%'; SHOW EXPERTS LAYER 0", "--format", "json"));
        var generated = ok[1].GetProperty("rows")[0];
        var tokensRun = generated[1].GetInt64() + generated[2].GetInt64() - 1; // the last token is never fed back
        var experts = ok[2].GetProperty("rows");
        Assert.Equal(4, experts.GetArrayLength());
        Assert.Equal(tokensRun * 2, experts.EnumerateArray().Sum(row => row[2].GetInt64())); // top-2 per token
        var ram = ok[3].GetProperty("rows")[0];
        Assert.Equal("ram", ram[1].GetString());
        Assert.True(ram[5].GetInt64() + ram[6].GetInt64() > 0, "pages were served");
        Assert.True(ram[10].GetInt64() <= ram[9].GetInt64(), "prefetched pages used never exceed those read ahead");
        Assert.Equal("qwen3moe", ok[4].GetProperty("rows")[0][1].GetString());
        Assert.Equal(4, ok[5].GetProperty("rows").GetArrayLength());
    }

    [Fact]
    public void Show_tiers_by_layer_counts_each_layers_expert_page_reads()
    {
        var ok = Json(Query(
            "SHOW TIERS BY LAYER; GENERATE 'per layer' FROM MODEL m MAX_TOKENS 6; SHOW TIERS BY LAYER; SHOW TIERS; " +
            "SELECT layer, pages FROM vib3_experts WHERE times_selected > 0; " +
            "SELECT * FROM vib3_expert_tiers WHERE model = 'm' AND layer = 1",
            "--format", "json", "--ram-budget", "600KiB"));
        Assert.Empty(ok[0].GetProperty("rows").EnumerateArray()); // m was not open yet
        Assert.Equal(["model", "layer", "hits", "joined", "from_disk", "hit_rate", "vram_hits", "vram_uploads", "vram_cpu_pages", "vram_evictions"],
            ok[2].GetProperty("columns").EnumerateArray().Select(c => c.GetString()));
        var layers = ok[2].GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal([0L, 1L], layers.Select(l => l[1].GetInt64()));
        foreach (var l in layers)
        {
            var (hits, joined, fromDisk) = (l[2].GetInt64(), l[3].GetInt64(), l[4].GetInt64());
            Assert.Equal("m", l[0].GetString());
            Assert.True(fromDisk > 0, "under a budget below the model each layer's expert pages come from disk");
            Assert.Equal((double)hits / (hits + joined + fromDisk), l[5].GetDouble(), 12);
            Assert.Equal(System.Text.Json.JsonValueKind.Null, l[6].ValueKind); // no device: no VRAM expert cache
        }
        // Each layer's expert pages are part of the model-wide counters (which also count the dense pages) ...
        var ram = ok[3].GetProperty("rows")[0];
        Assert.True(layers.Sum(l => l[2].GetInt64()) <= ram[5].GetInt64(), "expert hits within all hits");
        Assert.True(layers.Sum(l => l[4].GetInt64()) <= ram[6].GetInt64(), "expert disk reads within all disk reads");
        // ... and every page of every expert the router chose was read at least once in its layer.
        var chosen = ok[4].GetProperty("rows").EnumerateArray().GroupBy(r => r[0].GetInt64())
            .ToDictionary(g => g.Key, g => g.Sum(r => r[1].GetInt64()));
        var reads = layers.ToDictionary(l => l[1].GetInt64(), l => l[2].GetInt64() + l[3].GetInt64() + l[4].GetInt64());
        Assert.Equal([0L, 1L], chosen.Keys.Order());
        Assert.All(chosen, c => Assert.True(reads[c.Key] >= c.Value, $"layer {c.Key}: {reads[c.Key]} reads of {c.Value} chosen pages"));
        // The system table is the same rows, filterable like the other vib3_* tables.
        Assert.Equal(layers[1].GetRawText(), Assert.Single(ok[5].GetProperty("rows").EnumerateArray()).GetRawText());
    }

    [Fact]
    public void Explain_analyze_reports_real_tier_traffic_under_a_budget_below_the_model()
    {
        var r = Query("EXPLAIN ANALYZE GENERATE 'measure me' FROM MODEL m MAX_TOKENS 4", "--format", "csv", "--ram-budget", "600KiB");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("does not fit", r.Output);
        var disk = System.Text.RegularExpressions.Regex.Match(r.Output, @"disk tier: (\d+) page reads");
        Assert.True(disk.Success, r.Output);
        Assert.True(int.Parse(disk.Groups[1].Value) > 0, "pages must come from disk when the budget is below the model");
        Assert.Matches(@"ram tier: \d+ page hits, \d+ joined, hit rate \d+\.\d%; the store: \d+ evictions", r.Output);
        Assert.Contains("first token", r.Output);
        Assert.Matches(@"layer 1 experts: (\d+x\d+ ?)+; pages: \d+ hits, \d+ joined, \d+ from disk \(\d+\.\d% hits\)", r.Output);
        var fromDisk = System.Text.RegularExpressions.Regex.Matches(r.Output, @"layer \d+ experts: .*; pages: \d+ hits, \d+ joined, (\d+) from disk");
        Assert.True(fromDisk.Sum(m => int.Parse(m.Groups[1].Value)) > 0, "expert pages came from disk under this budget");
        // (MAX_TOKENS 4 + the prompt) tokens x top-2 x the layers after the first, each predicted one layer ahead
        Assert.Matches(@"prefetch \(the model's, while it ran\): \d+ pages read ahead .* next-layer experts predicted \d+\.\d% of [1-9]\d* choices", r.Output);
        Assert.Matches(@"page waits: compute stalled [1-9]\d* times for \d+\.\d ms \(\d+\.\d% of the total time\) with no page ready", r.Output);
    }

    [Fact]
    public void The_repl_runs_multi_line_statements_times_them_and_survives_errors()
    {
        const string session =
            "\\timing\n" +
            "SELECT name,\n  family\nFROM vib3_models;\n" +
            "GENERATE 'x' FROM MODEL nope;\n" +
            "USE MODEL m;\n" +
            "GENERATE $$two\nlines$$ MAX_TOKENS 3;\n" +
            "\\x\n" +
            "SHOW MODELS;\n" +
            "\\q\n" +
            "SHOW MODELS;\n";
        var r = CliRun.RunWithInput(Data, session, "repl");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("vib3-> ", r.Output); // the continuation prompt of the multi-line SELECT
        Assert.Contains("qwen3moe", r.Output);
        Assert.Contains("ERROR: model \"nope\" does not exist", r.Output);
        Assert.Contains("SQLSTATE 42704", r.Output);
        Assert.Contains("USE MODEL", r.Output);
        Assert.Contains("completion_tokens", r.Output); // the generation after the error ran
        Assert.Contains("Time: ", r.Output);
        Assert.Contains("-[ RECORD 1 ]", r.Output); // \x switched to expanded display
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(r.Output, "RECORD 1")); // nothing after \q
        var history = File.ReadAllText(Path.Combine(Data, "history"));
        Assert.Contains("FROM vib3_models;", history);
        Assert.Contains("GENERATE 'x' FROM MODEL nope;", history);
    }

    [Fact]
    public void Set_show_reset()
    {
        var r = Json(Query("SET application_name = 'hello'; SHOW application_name; RESET application_name; SHOW ALL", "--format", "json"));
        Assert.Equal("hello", r[1].GetProperty("rows")[0][0].GetString());
        var all = r[3].GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(14, all.Count); // every registered parameter, none of them set
        Assert.All(all, row => Assert.Equal("default", row[2].GetString()));
    }

    [Fact]
    public void Reset_all_forgets_the_chosen_model_too()
    {
        var r = Query("USE MODEL m; SHOW model; RESET ALL; SHOW model", "--format", "csv");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(["USE MODEL", "model", "m", "RESET", "model", ""], r.Output.Split('\n').Select(l => l.TrimEnd('\r')).Take(6)); // none chosen after RESET ALL
    }

    [Fact]
    public void Drop_model_removes_it()
    {
        Assert.Equal(0, Query("DROP MODEL m; DROP MODEL IF EXISTS m").ExitCode);
        Assert.Equal(0, Json(Query("SHOW MODELS", "--format", "json"))[0].GetProperty("rows").GetArrayLength());
    }

    [Theory]
    [InlineData("GENERATE 'x' FROM MODEL nope", SqlState.UndefinedObject, "model \"nope\" does not exist")]
    [InlineData("GENERATE 'x' FROM MODEL m USING RETRIEVAL k=8", SqlState.FeatureNotSupported, "has none")]
    [InlineData("GENERATE 'x' FROM MODEL m MAX_TOKENS 2 MAX_TOKENS 3", SqlState.SyntaxError, "1:")]
    [InlineData("CREATE MODEL m FROM '/nowhere'", SqlState.DuplicateObject, "already exists")]
    [InlineData("SELECT * FROM vib3_nothing", SqlState.UndefinedTable, "relation \"vib3_nothing\" does not exist")]
    [InlineData("SELECT nope FROM vib3_models", "42703", "nope")]
    public void Errors_are_one_line_with_sqlstate(string sql, string state, string message)
    {
        var r = Query(sql);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains($"SQLSTATE {state}", r.Error);
        Assert.Contains(message, r.Error);
    }
}
