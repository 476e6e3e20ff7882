using Vib3.Engine;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Server.Http.Tests;

/// <summary>Where the file system refuses O_DIRECT (tmpfs, some overlays) the page store reads through the OS cache
/// instead; that used to be visible only to tests (PageStore.IsDirectIo). Now vib3_tiers has a direct_io column on
/// the disk tier and /metrics a vib3_direct_io gauge, both saying what the store reports on this machine's temp
/// file system, whichever way it went.</summary>
public sealed class DirectIoVisibilityTests(HttpServerFixture server) : IClassFixture<HttpServerFixture>
{
    [Fact]
    public async Task Vib3_tiers_and_metrics_say_whether_pages_are_read_with_direct_io()
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 1 });
        Assert.Equal(200, status);

        // The same store opened beside the server's: what O_DIRECT gives on this file system.
        var catalog = server.Engine.Catalog;
        bool expected;
        using (var store = PageStore.Open(catalog.ModelDir(HttpServerFixture.Model), HttpServerFixture.Model, new PageStoreOptions()))
            expected = store.IsDirectIo;
        Assert.Equal(expected, DirectIoProbe.Supported(catalog.DataDir)); // what `vib3 serve`'s banner says

        using var session = server.Engine.OpenSession(ClientAccess.LocalAdministrator);
        var rows = new List<object?[]>();
        await foreach (var result in session.ExecuteAsync("SELECT tier, direct_io FROM vib3_tiers WHERE model = 'm'"))
            await foreach (var row in result.Rows) rows.Add(row);
        Assert.Equal([("ram", (object?)null), ("disk", expected)], rows.Select(r => ((string)r[0]!, r[1])));

        var samples = await Metrics.ScrapeAsync(server.Http);
        Assert.True(samples.TryGetValue("vib3_direct_io{model=\"m\"}", out var gauge), "no vib3_direct_io series for m");
        Assert.Equal(expected ? 1 : 0, gauge);
    }
}
