using Vib3.Engine;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Storage.Tests;

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
        // The same store opened beside the server's: what O_DIRECT gives on this file system.
        var catalog = server.Engine.Catalog;
        bool expected;
        using (var store = PageStore.Open(catalog.ModelDir(HttpServerFixture.Model), HttpServerFixture.Model, new PageStoreOptions()))
            expected = store.IsDirectIo;
        Assert.Equal(expected, DirectIoProbe.Supported(catalog.DataDir)); // what `vib3 serve`'s banner says

        await AssertReportedAsync(server, expected);
    }

    /// <summary>After a completion has read pages: vib3_tiers' disk row and the vib3_direct_io gauge say
    /// <paramref name="direct"/>.</summary>
    internal static async Task AssertReportedAsync(HttpServerFixture server, bool direct)
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 1 });
        Assert.Equal(200, status);

        using var session = server.Engine.OpenSession(ClientAccess.LocalAdministrator);
        var rows = new List<object?[]>();
        await foreach (var result in session.ExecuteAsync("SELECT tier, direct_io FROM vib3_tiers WHERE model = 'm'"))
            await foreach (var row in result.Rows) rows.Add(row);
        Assert.Equal([("ram", (object?)null), ("disk", direct)], rows.Select(r => ((string)r[0]!, r[1])));

        var samples = await Metrics.ScrapeAsync(server.Http);
        Assert.True(samples.TryGetValue("vib3_direct_io{model=\"m\"}", out var gauge), "no vib3_direct_io series for m");
        Assert.Equal(direct ? 1 : 0, gauge);
    }
}

/// <summary>A server whose file system refuses O_DIRECT (EINVAL at open, as tmpfs before Linux 6.6 does).</summary>
public sealed class NoDirectIoServerFixture : HttpServerFixture
{
    protected override EngineOptions ConfigureEngine(EngineOptions options) =>
        options with { StoreDevices = RefusingDirectIoOpener.Devices };
}

/// <summary>The buffered fallback taken for real (the opener refuses O_DIRECT, the device falls back): the server
/// still answers, and says it reads through the OS page cache, whatever this machine's file system would allow.</summary>
public sealed class BufferedFallbackVisibilityTests(NoDirectIoServerFixture server) : IClassFixture<NoDirectIoServerFixture>
{
    [Fact]
    public Task Vib3_tiers_and_metrics_say_buffered_when_the_file_system_refuses_direct_io() =>
        DirectIoVisibilityTests.AssertReportedAsync(server, direct: false);
}
