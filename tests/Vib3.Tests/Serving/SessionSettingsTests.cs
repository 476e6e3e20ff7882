using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Serving;

/// <summary>SET / SHOW / RESET as PostgreSQL's: one registry of parameters, unknown names refused with 42704, bad
/// values with 22023 naming the parameter and what it accepts, SHOW ALL listing every one with its source; the
/// sampling parameters and model are the session's defaults for GENERATE. DESCRIBE of a system table or a model;
/// vib3_sessions lists every open session, hiding other clients' statements from non-administrators.</summary>
public sealed class SessionSettingsTests : IDisposable
{
    private static readonly string[] Registered =
    [
        "application_name", "client_encoding", "DateStyle", "extra_float_digits", "IntervalStyle", "max_tokens", "min_p",
        "model", "repeat_penalty", "seed", "temperature", "TimeZone", "top_k", "top_p",
    ];

    private static readonly ClientAccess Bob = new(Local: false, Administrator: false, "user \"bob\" from 10.0.0.5");

    private readonly TempDir _dir = new();
    private readonly Vib3Engine _engine;

    public SessionSettingsTests()
    {
        var source = Path.Combine(_dir.Path, "hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Qwen3Moe, Layers = 2, Dim = 64, ExpertHidden = 80, Heads = 4, KvHeads = 2,
            Experts = 4, TopK = 2, Vocab = 300, Context = 128, Seed = 7, DType = DType.F32,
        }, source);
        var data = Path.Combine(_dir.Path, "data");
        new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(source, "m", PageRows: 32));
        _engine = new Vib3Engine(new EngineOptions(data, 64L << 20));
    }

    public void Dispose()
    {
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _dir.Dispose();
    }

    [Fact]
    public async Task Set_model_is_the_model_generate_uses_without_from_model()
    {
        using var s = _engine.OpenSession(ClientAccess.LocalAdministrator);
        var rows = await SessionRows.LastAsync(s, "SET model = 'm'; GENERATE 'hello' MAX_TOKENS 2");
        Assert.InRange((long)rows[0][2]!, 1, 2);
        Assert.Equal("m", (await SessionRows.LastAsync(s, "SHOW model"))[0][0]);
        var missing = await Assert.ThrowsAsync<Vib3Exception>(() => SessionRows.LastAsync(s, "SET model = 'nope'"));
        Assert.Equal((SqlState.UndefinedObject, "model \"nope\" does not exist"), (missing.SqlState, missing.Message));
        await SessionRows.LastAsync(s, "RESET model");
        // none chosen: the only model stored
        Assert.InRange((long)(await SessionRows.LastAsync(s, "GENERATE 'hello' MAX_TOKENS 2"))[0][2]!, 1, 2);
    }

    [Theory]
    [InlineData("SET tempurature = 0.9")]
    [InlineData("SHOW tempurature")]
    [InlineData("RESET tempurature")]
    public async Task An_unknown_parameter_is_refused_as_postgres_refuses_it(string sql)
    {
        using var s = _engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => SessionRows.LastAsync(s, sql));
        Assert.Equal((SqlState.UndefinedObject, "unrecognized configuration parameter \"tempurature\""), (e.SqlState, e.Message));
    }

    [Theory]
    [InlineData("SET temperature = -1", "invalid value for parameter \"temperature\": \"-1\" (accepted: a number >= 0)")]
    [InlineData("SET top_p = 1.5", "invalid value for parameter \"top_p\": \"1.5\" (accepted: a number above 0 to 1)")]
    [InlineData("SET top_k = 'many'", "invalid value for parameter \"top_k\": \"many\" (accepted: an integer from 0 to 2147483647)")]
    [InlineData("SET max_tokens = 0", "invalid value for parameter \"max_tokens\": \"0\" (accepted: an integer from 1 to 2147483647)")]
    [InlineData("SET extra_float_digits = 4", "invalid value for parameter \"extra_float_digits\": \"4\" (accepted: an integer from -15 to 3)")]
    [InlineData("SET client_encoding = 'LATIN1'", "invalid value for parameter \"client_encoding\": \"LATIN1\" (accepted: UTF8)")]
    public async Task A_bad_value_names_the_parameter_and_what_it_accepts(string sql, string message)
    {
        using var s = _engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => SessionRows.LastAsync(s, sql));
        Assert.Equal((SqlState.InvalidParameterValue, message), (e.SqlState, e.Message));
    }

    [Fact]
    public async Task The_sampling_settings_are_the_defaults_of_generate_and_its_own_clauses_win()
    {
        using var s = _engine.OpenSession(ClientAccess.LocalAdministrator);
        await SessionRows.LastAsync(s, "USE MODEL m; SET temperature = 0.5; SET top_k = 5; SET seed = 42; SET max_tokens = 3");
        Assert.Contains("sampling: temperature 0.5, top_k 5, seed 42, max_tokens 3", await PlanAsync(s, "EXPLAIN GENERATE 'x'"));
        Assert.Contains("sampling: greedy, max_tokens 7", await PlanAsync(s, "EXPLAIN GENERATE 'x' TEMPERATURE 0 MAX_TOKENS 7"));

        // The settings sample exactly as the same clauses written out do, in a session with nothing set.
        var bySettings = await SessionRows.LastAsync(s, "GENERATE 'the cat'");
        using var plain = _engine.OpenSession(ClientAccess.LocalAdministrator);
        Assert.Equal(bySettings[0], (await SessionRows.LastAsync(plain, "GENERATE 'the cat' FROM MODEL m TEMPERATURE 0.5 TOP_K 5 SEED 42 MAX_TOKENS 3"))[0]);

        await SessionRows.LastAsync(s, "RESET ALL");
        Assert.Contains("sampling: greedy, max_tokens 64", await PlanAsync(s, "EXPLAIN GENERATE 'x' FROM MODEL m"));
    }

    [Fact]
    public async Task Show_all_on_a_fresh_session_lists_every_parameter_with_its_source()
    {
        using var s = _engine.OpenSession(ClientAccess.LocalAdministrator);
        var fresh = await SessionRows.LastAsync(s, "SHOW ALL");
        Assert.Equal(Registered, fresh.Select(r => (string)r[0]!));
        Assert.All(fresh, r => Assert.Equal("default", r[2]));
        Assert.All(fresh, r => Assert.False(string.IsNullOrWhiteSpace((string?)r[3])));
        Assert.Equal(["temperature", "0", "default"], fresh.Single(r => (string)r[0]! == "temperature")[..3]);

        var set = await SessionRows.LastAsync(s, "SET Temperature TO 0.25; USE MODEL m; SHOW ALL");
        Assert.Equal(["temperature", "0.25", "session"], set.Single(r => (string)r[0]! == "temperature")[..3]);
        Assert.Equal(["model", "m", "session"], set.Single(r => (string)r[0]! == "model")[..3]);
        Assert.Equal(["top_p", "1", "default"], set.Single(r => (string)r[0]! == "top_p")[..3]);
    }

    [Fact]
    public async Task Describe_shows_a_system_tables_columns_and_a_models_shape()
    {
        using var s = _engine.OpenSession(Bob);
        var table = await SessionRows.LastAsync(s, "DESCRIBE vib3_tiers");
        Assert.Equal(["model", "text"], table[0]);
        Assert.Equal(["failure", "text"], table[^1]);
        Assert.Contains(new object?[] { "hits", "bigint" }, table);

        var model = (await SessionRows.LastAsync(s, "DESCRIBE m")).ToDictionary(r => (string)r[0]!, r => (string?)r[1]);
        Assert.Equal(("qwen3moe", "2", "4", "2", "64"), (model["family"], model["layers"], model["experts"], model["top_k"], model["hidden"]));

        var e = await Assert.ThrowsAsync<Vib3Exception>(() => SessionRows.LastAsync(s, "DESCRIBE nothing"));
        Assert.Equal((SqlState.UndefinedObject, "no system table or model named \"nothing\" (at line 1:1)"), (e.SqlState, e.Message));
    }

    [Fact]
    public async Task Every_open_session_is_in_vib3_sessions_and_other_clients_statements_need_an_administrator()
    {
        const string Query = "SELECT id, client, application_name, current_model, state, statement FROM vib3_sessions ORDER BY id";
        using var admin = _engine.OpenSession(ClientAccess.LocalAdministrator);
        var bob = _engine.OpenSession(Bob);
        await SessionRows.LastAsync(admin, "USE MODEL m; SET application_name = 'console'");
        await SessionRows.LastAsync(bob, "SET application_name = 'report'");

        var seenByAdmin = await SessionRows.LastAsync(admin, Query);
        Assert.Equal([admin.Id, bob.Id], seenByAdmin.Select(r => (long)r[0]!));
        Assert.Equal(new object?[] { admin.Id, "the local command line", "console", "m", "active", Query }, seenByAdmin[0]);
        Assert.Equal(new object?[] { bob.Id, Bob.Client, "report", null, "idle", "SET application_name = 'report'" }, seenByAdmin[1]);

        var seenByBob = await SessionRows.LastAsync(bob, Query);
        Assert.Equal("<insufficient privilege>", seenByBob[0][5]);
        Assert.Equal(new object?[] { bob.Id, Bob.Client, "report", null, "active", Query }, seenByBob[1]);

        bob.Dispose();
        Assert.Equal([admin.Id], (await SessionRows.LastAsync(admin, Query)).Select(r => (long)r[0]!));
    }

    private static async Task<string> PlanAsync(Session s, string sql) =>
        string.Join("\n", (await SessionRows.LastAsync(s, sql)).Select(r => (string)r[0]!));

}
