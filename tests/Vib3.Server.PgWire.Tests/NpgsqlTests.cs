using System.Data;
using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>The real Npgsql driver (extended query protocol, binary results) against PgServer, with
/// <c>Server Compatibility Mode=NoTypeLoading</c> (the default mode also loads pg_catalog types).</summary>
public sealed class NpgsqlTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private Task<NpgsqlConnection> OpenAsync() => NpgsqlClient.OpenAsync(server.Port);

    [Fact]
    public async Task Select_from_vib3_models_reads_text_and_int8_in_binary()
    {
        await using var c = await OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT name, layers, experts, family FROM vib3_models", c);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.Equal("text", reader.GetDataTypeName(0));
        Assert.Equal("bigint", reader.GetDataTypeName(1));
        Assert.True(await reader.ReadAsync());
        Assert.Equal("m", reader.GetString(0));
        Assert.Equal(2L, reader.GetInt64(1));
        Assert.Equal(4L, reader.GetInt64(2));
        Assert.Equal("qwen3moe", reader.GetString(3));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task Parameters_bind_in_where_and_select_list()
    {
        await using var c = await OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT name, $2 AS n FROM vib3_models WHERE name = $1", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = "m" });
        cmd.Parameters.Add(new NpgsqlParameter { Value = 41L });
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("m", reader.GetString(0));
            Assert.Equal(41L, reader.GetInt64(1));
            Assert.False(await reader.ReadAsync());
        }
        cmd.Parameters[0].Value = "nope";
        await using (var reader = await cmd.ExecuteReaderAsync())
            Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task Int4_float8_bool_and_null_parameters_round_trip()
    {
        await using var c = await OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT $1 AS i, $2 AS f, $3 AS b, $4 AS t", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = 7 });
        cmd.Parameters.Add(new NpgsqlParameter { Value = 2.5 });
        cmd.Parameters.Add(new NpgsqlParameter { Value = true });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = null, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(7L, reader.GetInt64(0));
        Assert.Equal(2.5, reader.GetDouble(1));
        Assert.True(reader.GetBoolean(2));
        Assert.True(reader.IsDBNull(3));
    }

    [Fact]
    public async Task Generate_takes_the_prompt_as_a_parameter()
    {
        await using var c = await OpenAsync();
        await using var cmd = new NpgsqlCommand("GENERATE $1 FROM MODEL m MAX_TOKENS 3 SEED 1", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = "the quick brown fox" });
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.IsType<string>(reader.GetValue(0));
        Assert.True(reader.GetInt64(reader.GetOrdinal("prompt_tokens")) > 0);
        Assert.InRange(reader.GetInt64(reader.GetOrdinal("completion_tokens")), 1, 3);
        Assert.False(string.IsNullOrEmpty(reader.GetString(reader.GetOrdinal("finish_reason"))));
    }

    [Fact]
    public async Task Expert_tiers_by_layer_read_as_int8_and_float8_after_a_generation()
    {
        await using var c = await OpenAsync();
        await using (var generate = new NpgsqlCommand("GENERATE 'count my pages' FROM MODEL m MAX_TOKENS 3 SEED 1", c))
            await generate.ExecuteNonQueryAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT model, layer, hits, joined, from_disk, hit_rate FROM vib3_expert_tiers WHERE model = $1 ORDER BY layer", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = "m" });
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            Assert.Equal("bigint", reader.GetDataTypeName(4));
            Assert.Equal("double precision", reader.GetDataTypeName(5));
            for (var layer = 0L; layer < 2; layer++)
            {
                Assert.True(await reader.ReadAsync());
                Assert.Equal("m", reader.GetString(0));
                Assert.Equal(layer, reader.GetInt64(1));
                var reads = reader.GetInt64(2) + reader.GetInt64(3) + reader.GetInt64(4);
                Assert.True(reads > 0, $"layer {layer} read its chosen experts' pages");
                Assert.Equal((double)reader.GetInt64(2) / reads, reader.GetDouble(5), 12);
            }
            Assert.False(await reader.ReadAsync());
        }
        await using var show = new NpgsqlCommand("SHOW TIERS BY LAYER", c);
        await using var shown = await show.ExecuteReaderAsync();
        Assert.Equal(["model", "layer", "hits", "joined", "from_disk", "hit_rate", "vram_hits", "vram_uploads", "vram_cpu_pages", "vram_evictions"],
            Enumerable.Range(0, shown.FieldCount).Select(shown.GetName));
        Assert.True(await shown.ReadAsync());
    }

    [Fact]
    public async Task An_error_carries_the_sqlstate_and_the_connection_stays_usable()
    {
        await using var c = await OpenAsync();
        await using (var bad = new NpgsqlCommand("SELEKT nonsense", c))
        {
            var e = await Assert.ThrowsAsync<PostgresException>(() => bad.ExecuteNonQueryAsync());
            Assert.Equal("42601", e.SqlState);
        }
        await using (var missing = new NpgsqlCommand("SELECT * FROM no_such_table", c))
        {
            var e = await Assert.ThrowsAsync<PostgresException>(() => missing.ExecuteReaderAsync());
            Assert.Equal("42P01", e.SqlState);
        }
        await using var ok = new NpgsqlCommand("SELECT name FROM vib3_models", c);
        Assert.Equal("m", await ok.ExecuteScalarAsync());
        Assert.Equal(ConnectionState.Open, c.State);
    }

    [Fact]
    public async Task Generate_stream_is_read_row_by_row()
    {
        await using var c = await OpenAsync();
        await using var cmd = new NpgsqlCommand("GENERATE 'hello' FROM MODEL m MAX_TOKENS 3 SEED 1 STREAM", c);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.Equal("token", reader.GetName(0));
        var tokens = new List<string>();
        while (await reader.ReadAsync()) tokens.Add(reader.GetString(0));
        Assert.InRange(tokens.Count, 1, 3);
    }

    [Fact]
    public async Task Prepared_statements_are_reused()
    {
        await using var c = await OpenAsync();
        await using var select = new NpgsqlCommand("SELECT name, layers FROM vib3_models WHERE name = $1", c);
        select.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = "m" });
        await select.PrepareAsync();
        Assert.True(select.IsPrepared);
        for (var i = 0; i < 3; i++)
        {
            await using var reader = await select.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal("m", reader.GetString(0));
            Assert.Equal(2L, reader.GetInt64(1));
        }

        await using var generate = new NpgsqlCommand("GENERATE $1 FROM MODEL m MAX_TOKENS 2 SEED 1", c);
        generate.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = "hi" });
        await generate.PrepareAsync();
        string? first = null;
        for (var i = 0; i < 2; i++)
        {
            await using var reader = await generate.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            var text = reader.GetString(0);
            first ??= text;
            Assert.Equal(first, text); // same seed, same prompt
            Assert.InRange(reader.GetInt64(2), 1, 2);
        }

        await using var set = new NpgsqlCommand("SET temperature = 0.5", c);
        await set.PrepareAsync();
        Assert.Equal(-1, await set.ExecuteNonQueryAsync());
        await using var show = new NpgsqlCommand("SHOW temperature", c);
        await show.PrepareAsync();
        Assert.Equal("0.5", await show.ExecuteScalarAsync());
        c.UnprepareAll();
    }

    [Fact]
    public async Task ExecuteScalar_and_single_row_behaviour()
    {
        await using var c = await OpenAsync();
        await using var count = new NpgsqlCommand("SELECT layers FROM vib3_models", c);
        Assert.Equal(2L, await count.ExecuteScalarAsync());
        // SingleRow makes Npgsql send Execute with a row limit of 1: the server suspends the portal.
        await using var layers = new NpgsqlCommand("SELECT layer FROM vib3_layers ORDER BY layer", c);
        await using (var reader = await layers.ExecuteReaderAsync(CommandBehavior.SingleRow))
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(0L, reader.GetInt64(0));
            Assert.False(await reader.ReadAsync());
        }
        await using (var reader = await layers.ExecuteReaderAsync())
        {
            var all = new List<long>();
            while (await reader.ReadAsync()) all.Add(reader.GetInt64(0));
            Assert.Equal([0L, 1L], all);
        }
    }

    [Fact]
    public async Task A_batch_runs_every_statement()
    {
        await using var c = await OpenAsync();
        await using var batch = new NpgsqlBatch(c)
        {
            BatchCommands = { new("SET application_name = 'x'"), new("SHOW application_name"), new("SELECT name FROM vib3_models") },
        };
        await using var reader = await batch.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("x", reader.GetString(0));
        Assert.True(await reader.NextResultAsync());
        Assert.True(await reader.ReadAsync());
        Assert.Equal("m", reader.GetString(0));
    }

    [Fact]
    public async Task Eight_concurrent_connections_each_select()
    {
        var names = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var c = await OpenAsync();
            var result = new List<string>();
            for (var i = 0; i < 5; i++)
            {
                await using var cmd = new NpgsqlCommand("SELECT name FROM vib3_models", c);
                result.Add((string)(await cmd.ExecuteScalarAsync())!);
            }
            return result;
        }));
        Assert.All(names, n => Assert.All(n, x => Assert.Equal("m", x)));
    }
}
