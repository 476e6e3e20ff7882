using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server with <see cref="PgServerOptions.Password"/> set: every user authenticates with SCRAM-SHA-256.</summary>
public sealed class PasswordServerFixture : PgServerFixture
{
    public const string Password = "s3cret pässword";

    protected override PgServerOptions Configure(PgServerOptions options) => options with { Password = Password };
}

public sealed class AuthenticationTests(PasswordServerFixture server) : IClassFixture<PasswordServerFixture>
{
    private string ConnectionString(string? password) =>
        $"Host=127.0.0.1;Port={server.Port};Username=test;Database=vib3;Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10"
        + (password is null ? "" : $";Password={password}");

    [Fact]
    public async Task Psql_with_the_right_password_connects()
    {
        var r = await Psql.RunWithPasswordAsync(server.Port, PasswordServerFixture.Password, "-A", "-t", "-c", "SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("m", r.Output.Trim());
    }

    [Fact]
    public async Task Psql_with_a_wrong_password_fails_with_28P01()
    {
        var r = await Psql.RunWithPasswordAsync(server.Port, "wrong", "-v", "VERBOSITY=verbose", "-c", "SELECT 1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("password authentication failed for user \"test\"", r.Error);
    }

    [Fact]
    public async Task Psql_without_a_password_is_refused()
    {
        var r = await Psql.RunAsync(server.Port, "-c", "SELECT 1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("password", r.Error);
    }

    [Fact]
    public async Task Npgsql_with_the_right_password_runs_queries()
    {
        await using var c = new NpgsqlConnection(ConnectionString(PasswordServerFixture.Password));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT name FROM vib3_models", c);
        Assert.Equal("m", await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Npgsql_with_a_wrong_password_gets_28P01()
    {
        await using var c = new NpgsqlConnection(ConnectionString("nope"));
        var e = await Assert.ThrowsAsync<PostgresException>(() => c.OpenAsync());
        Assert.Equal("28P01", e.SqlState);
        Assert.Equal("password authentication failed for user \"test\"", e.MessageText);
    }

    [Fact]
    public void Scram_rejects_channel_binding_and_authzid()
    {
        var scram = new ScramSha256("pw", new byte[16]);
        Assert.Throws<FormatException>(() => scram.Start().First("p=tls-server-end-point,,n=,r=abc"));
        Assert.Throws<FormatException>(() => scram.Start().First("n,a=admin,n=,r=abc"));
        Assert.Throws<FormatException>(() => scram.Start().First("n,,r=abc"));
        Assert.StartsWith("r=abc", scram.Start().First("y,,n=,r=abc"));
    }
}
