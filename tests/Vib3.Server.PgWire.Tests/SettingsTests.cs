using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>SET / SHOW / DESCRIBE / vib3_sessions through real clients: psql shows PostgreSQL's 42704 for a misspelt
/// parameter, the SETs drivers send (JDBC, Npgsql, psql scripts) are registered parameters that SHOW ALL lists with
/// their source, a prepared SHOW ALL / DESCRIBE describes its columns, and every connection sees every other.</summary>
public sealed class SettingsTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private Task<NpgsqlConnection> OpenAsync() => NpgsqlClient.OpenAsync(server.Port);

    [Fact]
    public async Task Psql_shows_42704_for_a_misspelt_parameter_and_the_session_goes_on()
    {
        var r = await Psql.RunAsync(server.Port, "-A", "-t", "-c", @"\set VERBOSITY verbose", "-c", "SET tempurature = 0.9",
            "-c", "SHOW temperature");
        Assert.Contains("ERROR:  42704: unrecognized configuration parameter \"tempurature\"", r.Error);
        Assert.Equal("0", r.Output.Trim());
    }

    [Fact]
    public async Task Psql_show_all_on_a_fresh_connection_lists_every_parameter_and_its_application_name()
    {
        var r = await Psql.RunAsync(server.Port, "-A", "-t", "-c", "SHOW ALL");
        Assert.True(r.ExitCode == 0, r.Error);
        var rows = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|')).ToList();
        Assert.Equal(14, rows.Count);
        Assert.Contains(rows, x => x[..3] is ["temperature", "0", "default"]);
        Assert.Contains(rows, x => x[..3] is ["repeat_penalty", "1", "default"]);
        Assert.Contains(rows, x => x[..3] is ["model", "", "default"]);
        Assert.Contains(rows, x => x[..3] is ["application_name", "vib3-tests", "client"]); // psql's PGAPPNAME, sent at startup
    }

    [Fact]
    public async Task Reset_and_discard_all_return_to_the_startup_application_name()
    {
        var r = await Psql.RunAsync(server.Port, "-q", "-A", "-t", "-c", "SET application_name = 'other'; SHOW application_name",
            "-c", "RESET application_name; SHOW application_name", "-c", "SET application_name = 'x'", "-c", "DISCARD ALL",
            "-c", "SHOW application_name");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(["other", "vib3-tests", "vib3-tests"], r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task The_sets_drivers_send_are_accepted_and_listed_with_their_source()
    {
        await using var c = await OpenAsync();
        foreach (var sql in new[]
                 {
                     "SET extra_float_digits = 3", "SET client_encoding TO 'UTF8'", "SET DateStyle = 'ISO, MDY'",
                     "SET application_name = 'PostgreSQL JDBC Driver'", "SET TimeZone = 'UTC'", "SET IntervalStyle = 'iso_8601'",
                 })
        {
            await using var set = new NpgsqlCommand(sql, c);
            Assert.Equal(-1, await set.ExecuteNonQueryAsync());
        }
        // Prepared: the server describes SHOW ALL's columns before running it.
        await using var show = new NpgsqlCommand("SHOW ALL", c);
        await show.PrepareAsync();
        var rows = new Dictionary<string, (string Setting, string Source)>();
        await using (var reader = await show.ExecuteReaderAsync())
        {
            Assert.Equal(["name", "setting", "source", "description"], Enumerable.Range(0, reader.FieldCount).Select(reader.GetName));
            while (await reader.ReadAsync()) rows[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2));
        }
        Assert.Equal(("3", "session"), rows["extra_float_digits"]);
        Assert.Equal(("PostgreSQL JDBC Driver", "session"), rows["application_name"]);
        Assert.Equal(("iso_8601", "session"), rows["IntervalStyle"]);
        Assert.Equal(("0", "default"), rows["temperature"]);
    }

    [Fact]
    public async Task Set_model_then_generate_without_from_model_over_npgsql()
    {
        await using var c = await OpenAsync();
        await using (var set = new NpgsqlCommand("SET model = 'm'; SET max_tokens = 2", c)) await set.ExecuteNonQueryAsync();
        await using var generate = new NpgsqlCommand("GENERATE 'hello'", c);
        await using var reader = await generate.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.InRange(reader.GetInt64(2), 1, 2);
    }

    [Fact]
    public async Task A_prepared_describe_lists_a_system_tables_columns()
    {
        await using var c = await OpenAsync();
        await using var describe = new NpgsqlCommand("DESCRIBE vib3_sessions", c);
        await describe.PrepareAsync();
        var columns = new List<string>();
        await using var reader = await describe.ExecuteReaderAsync();
        Assert.Equal(["column", "type"], Enumerable.Range(0, reader.FieldCount).Select(reader.GetName));
        while (await reader.ReadAsync()) columns.Add($"{reader.GetString(0)} {reader.GetString(1)}");
        Assert.Equal(["id bigint", "client text", "application_name text", "current_model text", "state text", "statement text",
            "started_at text"], columns);
    }

    [Fact]
    public async Task Two_connections_each_see_both_in_vib3_sessions()
    {
        await using var first = await OpenAsync();
        await using var second = await OpenAsync();
        foreach (var (c, name) in new[] { (first, "first-client"), (second, "second-client") })
        {
            await using var set = new NpgsqlCommand($"SET application_name = '{name}'", c);
            await set.ExecuteNonQueryAsync();
        }
        foreach (var c in new[] { first, second })
        {
            await using var select = new NpgsqlCommand("SELECT application_name, state FROM vib3_sessions", c);
            var seen = new List<string>();
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync()) seen.Add($"{reader.GetString(0)} {reader.GetString(1)}");
            Assert.Contains(c == first ? "first-client active" : "second-client active", seen);
            Assert.Contains(c == first ? "second-client idle" : "first-client idle", seen);
        }
    }
}
