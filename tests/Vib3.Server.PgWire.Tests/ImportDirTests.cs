using Npgsql;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Synth;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server that trusts no network, asks for a password and has an admin user, whose engine imports
/// remotely only from one folder. Beside it on disk: a model source inside the import folder, one outside it, a
/// link inside it to the outside folder, and a model folder inside it whose config.json links to the outside one.</summary>
public sealed class ImportDirFixture : PgServerFixture, IDisposable
{
    public const string Password = "pw";
    public const string Admin = "admin";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "vib3-import-" + Guid.NewGuid().ToString("N")[..12]);

    public ImportDirFixture()
    {
        Import = Path.Combine(_root, "import");
        Outside = Path.Combine(_root, "outside");
        var spec = new SyntheticModelSpec
        {
            Family = ModelFamily.Qwen3Moe, Layers = 1, Dim = 32, ExpertHidden = 32, Heads = 2, KvHeads = 1,
            Experts = 2, TopK = 1, Vocab = 300, Context = 128, Seed = 3, DType = DType.F32,
        };
        SyntheticModelGenerator.WriteHf(spec, Path.Combine(Import, "src"));
        SyntheticModelGenerator.WriteHf(spec, Path.Combine(Outside, "src"));
        Directory.CreateSymbolicLink(Path.Combine(Import, "escape"), Outside);
        var mixed = Directory.CreateDirectory(Path.Combine(Import, "mixed")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(Import, "src")).Where(f => Path.GetFileName(f) != "config.json"))
            File.Copy(f, Path.Combine(mixed, Path.GetFileName(f)));
        File.CreateSymbolicLink(Path.Combine(mixed, "config.json"), Path.Combine(Outside, "src", "config.json"));
    }

    public string Import { get; }

    public string Outside { get; }

    protected override EngineOptions ConfigureEngine(EngineOptions options) => options with { ImportDirs = [Import] };

    protected override PgServerOptions Configure(PgServerOptions options) =>
        options with { TrustedNetworks = [], Password = Password, AdminUser = Admin };

    public NpgsqlConnection Connect(string user) => new(NpgsqlClient.ConnectionString(Port, user, Password));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}

public sealed class ImportDirTests(ImportDirFixture server) : IClassFixture<ImportDirFixture>
{
    private const string Refusal = "CREATE MODEL from remote sessions may only read files under --import-dir; '{0}' is not under one";

    /// <summary>The statement's error as the admin user gets it over Npgsql.</summary>
    private async Task<PostgresException> FailsAsync(string sql, string user = ImportDirFixture.Admin)
    {
        await using var c = server.Connect(user);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task Paths_outside_the_import_dir_are_refused_alike_whether_or_not_they_exist()
    {
        var existing = Path.Combine(server.Outside, "src");
        var missing = Path.Combine(server.Outside, "no-such-folder");
        var a = await FailsAsync($"CREATE MODEL a FROM '{existing}'");
        var b = await FailsAsync($"CREATE MODEL b FROM '{missing}'");
        var c = await FailsAsync("CREATE MODEL c FROM '/etc/passwd'");
        Assert.Equal(("42501", string.Format(Refusal, existing)), (a.SqlState, a.MessageText));
        Assert.Equal(("42501", string.Format(Refusal, missing)), (b.SqlState, b.MessageText));
        Assert.Equal(("42501", string.Format(Refusal, "/etc/passwd")), (c.SqlState, c.MessageText));
        Assert.Equal(a.MessageText.Replace(existing, "P"), b.MessageText.Replace(missing, "P"));
    }

    [Fact]
    public async Task Dot_dot_out_of_the_import_dir_is_refused()
    {
        var sneaky = server.Import + "/../outside/src";
        var e = await FailsAsync($"CREATE MODEL a FROM '{sneaky}'");
        Assert.Equal(("42501", string.Format(Refusal, sneaky)), (e.SqlState, e.MessageText));
    }

    [Fact]
    public async Task A_link_inside_the_import_dir_pointing_out_is_refused_existing_target_or_not()
    {
        var through = Path.Combine(server.Import, "escape", "src");
        var missing = Path.Combine(server.Import, "escape", "nothing");
        var a = await FailsAsync($"CREATE MODEL a FROM '{through}'");
        var b = await FailsAsync($"CREATE MODEL b FROM '{missing}'");
        Assert.Equal(("42501", string.Format(Refusal, through)), (a.SqlState, a.MessageText));
        Assert.Equal(("42501", string.Format(Refusal, missing)), (b.SqlState, b.MessageText));
    }

    [Fact]
    public async Task A_model_folder_whose_config_links_out_is_refused()
    {
        var folder = Path.Combine(server.Import, "mixed");
        var e = await FailsAsync($"CREATE MODEL a FROM '{folder}'");
        Assert.Equal(("42501", string.Format(Refusal, Path.Join(folder, "config.json"))), (e.SqlState, e.MessageText));
    }

    [Fact]
    public async Task The_admin_imports_from_the_import_dir_and_drops_remotely()
    {
        await using var c = server.Connect(ImportDirFixture.Admin);
        await c.OpenAsync();
        Assert.Equal("on", c.PostgresParameters["is_superuser"]);
        await using (var create = new NpgsqlCommand($"CREATE MODEL imported FROM '{Path.Combine(server.Import, "src")}' WITH (page_rows = 32)", c))
            await create.ExecuteNonQueryAsync();
        await using (var list = new NpgsqlCommand("SELECT name FROM vib3_models WHERE name = 'imported'", c))
            Assert.Equal("imported", await list.ExecuteScalarAsync());
        await using (var drop = new NpgsqlCommand("DROP MODEL imported", c))
            await drop.ExecuteNonQueryAsync();
        await using (var list = new NpgsqlCommand("SELECT name FROM vib3_models WHERE name = 'imported'", c))
            Assert.Null(await list.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Other_users_with_the_password_are_read_only()
    {
        var e = await FailsAsync($"CREATE MODEL a FROM '{Path.Combine(server.Import, "src")}'", user: "test");
        Assert.Equal(("42501", "permission denied: CREATE MODEL needs an administrator (user \"test\" from 127.0.0.1 is read-only)"),
            (e.SqlState, e.MessageText));
        var r = await Psql.RunWithPasswordAsync(server.Port, ImportDirFixture.Password, "-v", "VERBOSITY=verbose", "-c", "DROP MODEL m");
        Assert.StartsWith("ERROR:  42501: permission denied: DROP MODEL needs an administrator", r.Error);
    }

    [Fact]
    public async Task The_admin_user_works_over_psql_too()
    {
        var r = await Psql.RunWithPasswordAsync(server.Port, ImportDirFixture.Password, "-U", ImportDirFixture.Admin, "-A", "-t",
            "-c", "CREATE INDEX ON MODEL m", "-c", "DROP INDEX ON MODEL m", "-c", "SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.EndsWith("m", r.Output.Trim());
    }
}
