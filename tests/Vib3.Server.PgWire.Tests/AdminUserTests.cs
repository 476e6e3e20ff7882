using Npgsql;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server on loopback (its clients are local) with an admin user: only that user administers, and, being
/// local, imports from any path; other local users read only.</summary>
public sealed class AdminUserOnLoopbackFixture : PgServerFixture, IDisposable
{
    public const string Password = "pw";

    public AdminUserOnLoopbackFixture()
    {
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Qwen3Moe, Layers = 1, Dim = 32, ExpertHidden = 32, Heads = 2, KvHeads = 1,
            Experts = 2, TopK = 1, Vocab = 300, Context = 128, Seed = 5, DType = DType.F32,
        }, Source);
    }

    /// <summary>A model source in no import directory (the server has none).</summary>
    public string Source { get; } = Path.Combine(Path.GetTempPath(), "vib3-admin-src-" + Guid.NewGuid().ToString("N")[..12]);

    protected override PgServerOptions Configure(PgServerOptions options) => options with { Password = Password, AdminUser = "admin" };

    public NpgsqlConnection Connect(string user) => new(NpgsqlClient.ConnectionString(Port, user, Password));

    public void Dispose()
    {
        try { Directory.Delete(Source, recursive: true); }
        catch (IOException) { }
    }
}

public sealed class AdminUserTests(AdminUserOnLoopbackFixture server) : IClassFixture<AdminUserOnLoopbackFixture>
{
    [Fact]
    public async Task A_local_user_who_is_not_the_admin_user_reads_only()
    {
        await using var c = server.Connect("test");
        await c.OpenAsync();
        Assert.Equal("off", c.PostgresParameters["is_superuser"]);
        await using var cmd = new NpgsqlCommand("DROP MODEL m", c);
        var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        Assert.Equal(("42501", "permission denied: DROP MODEL needs an administrator (user \"test\" from 127.0.0.1 is read-only)"),
            (e.SqlState, e.MessageText));
    }

    [Fact]
    public async Task The_local_admin_user_imports_from_any_path()
    {
        await using var c = server.Connect("admin");
        await c.OpenAsync();
        await using (var create = new NpgsqlCommand($"CREATE MODEL anywhere FROM '{server.Source}' WITH (page_rows = 32)", c))
            await create.ExecuteNonQueryAsync();
        await using var drop = new NpgsqlCommand("DROP MODEL anywhere", c);
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task An_admin_user_without_a_password_is_refused()
    {
        await using var engine = new Vib3.Engine.Vib3Engine(new Vib3.Engine.EngineOptions(Path.Combine(server.Source, "data"), 64L << 20));
        var e = Assert.Throws<Vib3Exception>(() => new PgServer(engine, new PgServerOptions { AdminUser = "admin" }));
        Assert.Equal("an admin user needs a password: without one any client could log in under its name", e.Message);
    }
}
