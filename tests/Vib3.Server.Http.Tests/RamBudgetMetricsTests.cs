namespace Vib3.Server.Http.Tests;

/// <summary>/metrics exports the engine-wide RAM budget and what every open model's pages take of it, and a dropped
/// model's gauges go with it (they used to go on showing the pages it held).</summary>
public sealed class RamBudgetMetricsTests(MetricsAcrossReopenTests.Fixture server) : IClassFixture<MetricsAcrossReopenTests.Fixture>
{
    private const string Budget = "vib3_ram_budget_bytes", Resident = "vib3_ram_resident_bytes";
    private const string ModelResident = "vib3_tier_resident_bytes{model=\"m\"}";

    [Fact]
    public async Task The_budget_and_the_resident_bytes_of_every_model_are_exported_and_a_dropped_models_gauges_go()
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 2 });
        Assert.Equal(200, status);

        var samples = await Metrics.ScrapeAsync(server.Http);
        Assert.Equal(server.Engine.Options.RamBudgetBytes, Metrics.Get(samples, Budget));
        var resident = Metrics.Get(samples, Resident);
        Assert.InRange(resident, 1, Metrics.Get(samples, Budget));
        Assert.Equal(Metrics.Get(samples, ModelResident), resident); // the only open model holds all of it

        using (var session = server.Engine.OpenSession(Engine.ClientAccess.LocalAdministrator))
            await foreach (var _ in session.ExecuteAsync($"DROP MODEL {HttpServerFixture.Model}")) { }

        samples = await Metrics.ScrapeAsync(server.Http);
        Assert.Equal(0, Metrics.Get(samples, Resident));
        Assert.False(samples.ContainsKey(ModelResident), $"{ModelResident} is still exported after DROP MODEL");
        Assert.False(samples.ContainsKey("vib3_direct_io{model=\"m\"}"), "vib3_direct_io of the dropped model is still exported");
    }
}
