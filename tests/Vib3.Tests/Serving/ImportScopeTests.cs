using Vib3.Core;
using Vib3.Engine;

namespace Vib3.Tests.Serving;

/// <summary>How remote CREATE MODEL paths are judged against --import-dir, on real folders and links.</summary>
public sealed class ImportScopeTests : IDisposable
{
    private const string Refusal = "CREATE MODEL from remote sessions may only read files under --import-dir; '{0}' is not under one";

    private readonly TempDir _dir = new();
    private readonly string _import;
    private readonly ImportScope _scope;

    public ImportScopeTests()
    {
        _import = Directory.CreateDirectory(_dir.Sub("import")).FullName;
        Directory.CreateDirectory(Path.Combine(_import, "models", "a"));
        File.WriteAllText(Path.Combine(_import, "models", "a", "config.json"), "{}");
        _scope = new ImportScope([_import]);
    }

    public void Dispose() => _dir.Dispose();

    private void AssertRefused(string given)
    {
        var e = Assert.Throws<Vib3Exception>(() => _scope.Resolve(given));
        Assert.Equal((SqlState.InsufficientPrivilege, string.Format(Refusal, given)), (e.SqlState, e.Message));
    }

    [Fact]
    public void A_folder_under_the_import_dir_resolves_to_itself()
    {
        Assert.Equal(Path.Combine(_import, "models", "a"), _scope.Resolve(Path.Combine(_import, "models", "a")));
    }

    [Fact]
    public void A_sibling_folder_sharing_the_name_prefix_is_not_under_it()
    {
        Directory.CreateDirectory(_import + "2");
        AssertRefused(_import + "2");
    }

    [Fact]
    public void A_link_that_stays_inside_is_followed_to_its_real_path()
    {
        Directory.CreateSymbolicLink(Path.Combine(_import, "latest"), "models/a"); // relative target
        Assert.Equal(Path.Combine(_import, "models", "a"), _scope.Resolve(Path.Combine(_import, "latest")));
    }

    [Fact]
    public void A_link_that_climbs_out_with_dot_dot_is_refused()
    {
        Directory.CreateDirectory(_dir.Sub("secret"));
        Directory.CreateSymbolicLink(Path.Combine(_import, "models", "up"), "../../secret");
        AssertRefused(Path.Combine(_import, "models", "up"));
    }

    [Fact]
    public void A_link_loop_inside_the_import_dir_is_reported_not_followed_forever()
    {
        File.CreateSymbolicLink(Path.Combine(_import, "x"), "y");
        File.CreateSymbolicLink(Path.Combine(_import, "y"), "x");
        var given = Path.Combine(_import, "x");
        var e = Assert.Throws<Vib3Exception>(() => _scope.Resolve(given));
        Assert.Equal($"'{given}': too many levels of symbolic links", e.Message);
    }

    [Fact]
    public void An_import_dir_given_through_a_link_accepts_paths_by_either_name()
    {
        var alias = _dir.Sub("alias");
        Directory.CreateSymbolicLink(alias, _import);
        var scope = new ImportScope([alias]);
        var real = Path.Combine(_import, "models", "a");
        Assert.Equal(real, scope.Resolve(Path.Combine(alias, "models", "a")));
        Assert.Equal(real, scope.Resolve(real));
    }

    [Fact]
    public void A_relative_path_is_judged_by_its_full_path()
    {
        AssertRefused("models/a"); // relative to the server's working folder, which is not the import dir
    }

    [Fact]
    public void A_missing_import_dir_fails_when_the_engine_starts()
    {
        var e = Assert.Throws<Vib3Exception>(() => new Vib3Engine(new EngineOptions(_dir.Sub("data"), 64L << 20) { ImportDirs = [_dir.Sub("nope")] }));
        Assert.Equal($"--import-dir {_dir.Sub("nope")}: no such directory", e.Message);
    }

    [Fact]
    public async Task A_local_session_reads_any_path_a_remote_one_only_the_import_dir()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_dir.Sub("data"), 64L << 20) { ImportDirs = [_import] });
        var missing = _dir.Sub("elsewhere");
        using var local = engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(async () => { await foreach (var _ in local.ExecuteAsync($"CREATE MODEL m FROM '{missing}'")) { } });
        Assert.Equal(SqlState.UndefinedObject, e.SqlState); // looked up: the local user may read anywhere
        using var remote = engine.OpenSession(new ClientAccess(Local: false, Administrator: true, "user \"r\" from 10.1.2.3"));
        e = await Assert.ThrowsAsync<Vib3Exception>(async () => { await foreach (var _ in remote.ExecuteAsync($"CREATE MODEL m FROM '{missing}'")) { } });
        Assert.Equal(string.Format(Refusal, missing), e.Message);
    }
}
