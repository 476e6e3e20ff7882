using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server that trusts no network (--trusted-network none): its clients, connecting over 127.0.0.1, are
/// remote ones, as clients from another machine would be. No password and no admin user: remote users read only.</summary>
public sealed class UntrustedNetworkFixture : PgServerFixture
{
    protected override PgServerOptions Configure(PgServerOptions options) => options with { TrustedNetworks = [] };
}

public sealed class RemoteAccessTests(UntrustedNetworkFixture server) : IClassFixture<UntrustedNetworkFixture>
{
    [Theory]
    [InlineData("DROP MODEL m", "DROP MODEL")]
    [InlineData("DROP MODEL IF EXISTS nothing_here", "DROP MODEL")]
    [InlineData("CREATE MODEL other FROM '/etc'", "CREATE MODEL")]
    [InlineData("CREATE INDEX ON MODEL m", "CREATE INDEX")]
    [InlineData("DROP INDEX ON MODEL m", "DROP INDEX")]
    public async Task A_remote_user_may_not_administer(string sql, string what)
    {
        var r = await Psql.RunAsync(server.Port, "-v", "VERBOSITY=verbose", "-c", sql);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"ERROR:  42501: permission denied: {what} needs an administrator (user \"test\" from 127.0.0.1 is read-only)",
            r.Error.Split('\n').First(l => l.StartsWith("ERROR:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_model_is_still_there_and_a_remote_user_reads_and_generates()
    {
        await Psql.RunAsync(server.Port, "-c", "DROP MODEL m");
        var r = await Psql.RunAsync(server.Port, "-q", "-A", "-t", "-c", "SET temperature = 0", "-c", "USE MODEL m",
            "-c", "SELECT name FROM vib3_models", "-c", "GENERATE 'hello' MAX_TOKENS 2 SEED 1");
        Assert.True(r.ExitCode == 0, r.Error);
        var lines = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("m", lines[0]);
        Assert.Matches(@"\|\d+\|\d+\|\w+$", lines[^1]); // text, prompt and completion tokens, finish reason
    }

    [Fact]
    public async Task Npgsql_sees_a_remote_user_as_no_superuser_and_gets_42501()
    {
        await using var c = new NpgsqlConnection(
            $"Host=127.0.0.1;Port={server.Port};Username=test;Database=vib3;Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10");
        await c.OpenAsync();
        Assert.Equal("off", c.PostgresParameters["is_superuser"]);
        await using var cmd = new NpgsqlCommand("CREATE INDEX ON MODEL m", c);
        var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        Assert.Equal("42501", e.SqlState);
    }
}
