using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>Issue 16, finding 1: one deeply nested statement overflowed the stack and took the whole server down
/// (exit 134). Now it is one 54001 error and the server, and the connection that sent it, keep answering. Before the
/// fix these tests crashed the test host running the in-process server.</summary>
public sealed class DeepNestingTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private static string Nots(int count) => "SELECT " + string.Concat(Enumerable.Repeat("NOT ", count)) + "TRUE";

    [Fact]
    public async Task Psql_with_6000_nots_gets_54001_and_the_server_still_answers()
    {
        var r = await Psql.RunAsync(server.Port, "-A", "-t", "-v", "VERBOSITY=verbose", "-c", Nots(6_000));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Matches(@"ERROR:  54001: statement too complex at line 1:\d+: expressions nest deeper than 1000 levels", r.Error);

        var after = await Psql.RunAsync(server.Port, "-A", "-t", "-c", "SELECT 1");
        Assert.True(after.ExitCode == 0, after.Error);
        Assert.Equal("1", after.Output.Trim());
    }

    [Fact]
    public async Task A_parse_message_with_100k_nots_gets_54001_and_the_connection_still_answers()
    {
        await using var c = new NpgsqlConnection(
            $"Host=127.0.0.1;Port={server.Port};Username=test;Database=vib3;Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10;Command Timeout=30");
        await c.OpenAsync();
        // Npgsql sends every command as Parse / Bind / Describe / Execute / Sync.
        await using (var deep = new NpgsqlCommand(Nots(100_000), c))
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => deep.ExecuteScalarAsync());
            Assert.Equal("54001", error.SqlState);
            Assert.StartsWith("statement too complex at line 1:", error.MessageText);
        }
        await using var ok = new NpgsqlCommand("SELECT 1", c);
        Assert.Equal(1L, System.Convert.ToInt64(await ok.ExecuteScalarAsync()));
    }
}
