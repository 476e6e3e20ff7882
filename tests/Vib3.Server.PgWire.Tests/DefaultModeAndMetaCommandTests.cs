using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>The clients as people run them: Npgsql with its default connection string (it loads types from
/// pg_catalog on connect, and pools), and psql's catalog meta-commands, all answered from the virtual catalog.</summary>
public sealed class DefaultModeAndMetaCommandTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    [Fact]
    public async Task Npgsql_with_its_default_connection_string_connects_and_queries()
    {
        var cs = $"Host=127.0.0.1;Port={server.Port};Username=test;Database=vib3;Timeout=10;Command Timeout=60";
        for (var round = 0; round < 2; round++) // the second round reuses a pooled connection (DISCARD ALL path)
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            Assert.StartsWith("16.", connection.PostgreSqlVersion.ToString());
            await using var command = new NpgsqlCommand("SELECT name, layers FROM vib3_models", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal("m", reader.GetString(0));
            Assert.True(reader.GetInt64(1) > 0);
        }
        NpgsqlConnection.ClearAllPools();
    }

    [Theory]
    [InlineData("\\d", "vib3_models")]
    [InlineData("\\dt", "vib3_experts")]
    [InlineData("\\l", "vib3")]
    [InlineData("\\d vib3_models", "active_parameters")]
    [InlineData("\\d vib3_expert_tiers", "from_disk")]
    [InlineData("\\d vib3_tensors", "bits_per_weight")]
    public async Task Psql_meta_commands_are_answered_from_the_virtual_catalog(string command, string expected)
    {
        var r = await Psql.RunAsync(server.Port, "-c", command);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains(expected, r.Output);
    }
}
