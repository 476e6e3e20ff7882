using Vib3.Core;
using Vib3.Engine;

namespace Vib3.Tests.Serving;

/// <summary>A model name is never a path: names with '/' or '..' cannot make the catalog look outside its folder,
/// so no client learns from USE MODEL or DROP MODEL what exists elsewhere on the server's disk.</summary>
public sealed class ModelNameProbeTests
{
    [Fact]
    public async Task A_name_pointing_out_of_the_catalog_is_not_looked_up()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.Sub("probe"));
        File.WriteAllText(Path.Combine(dir.Sub("probe"), "manifest.json"), "{}"); // data/models/../../probe/manifest.json
        await using var engine = new Vib3Engine(new EngineOptions(dir.Sub("data"), 64L << 20));
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);

        foreach (var name in new[] { "../../probe", "../../nothing" })
        {
            var use = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, $"USE MODEL \"{name}\""));
            Assert.Equal((SqlState.UndefinedObject, $"model \"{name}\" does not exist (at line 1:1)"), (use.SqlState, use.Message));
            var drop = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, $"DROP MODEL \"{name}\""));
            Assert.Equal(SqlState.InvalidParameterValue, drop.SqlState);
            Assert.StartsWith($"invalid model name '{name}'", drop.Message);
        }
        Assert.True(File.Exists(Path.Combine(dir.Sub("probe"), "manifest.json")));
    }

    private static async Task RunAsync(Session session, string sql)
    {
        await foreach (var _ in session.ExecuteAsync(sql)) { }
    }
}
