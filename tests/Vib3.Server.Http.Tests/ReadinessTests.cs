using Vib3.Engine;
using Vib3.Server.Http.Hosting;

namespace Vib3.Server.Http.Tests;

/// <summary>A warm-up that waits until it is released, then opens the model as the server's default does.</summary>
public sealed class HeldWarmUp : IModelWarmUp
{
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task WarmUpAsync(Vib3Engine engine, string model, CancellationToken ct)
    {
        await Release.Task.WaitAsync(ct);
        await EngineWarmUp.Instance.WarmUpAsync(engine, model, ct);
    }
}

/// <summary>A server preloading "m" whose warm-up is held until the test lets it go.</summary>
public sealed class HeldLoadingFixture : HttpServerFixture
{
    public HeldWarmUp WarmUp { get; } = new();

    protected override HttpServerOptions Configure(HttpServerOptions options) => options with { Preload = [Model], WarmUp = WarmUp };
}

public sealed class ReadinessTests(HeldLoadingFixture server) : IClassFixture<HeldLoadingFixture>
{
    [Fact]
    public async Task Health_and_generation_are_503_until_the_preloaded_models_are_warm()
    {
        using var anonymous = server.NewHttpClient(key: null); // /health needs no key
        using (var health = await anonymous.GetAsync("health"))
        {
            Assert.Equal(503, (int)health.StatusCode);
            Assert.Equal("loading", (string?)(await Api.ReadJsonAsync(health))!["status"]);
        }
        var request = new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 2 };
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", request);
        Assert.Equal(503, status);
        Api.Error(body);

        Assert.Empty(server.Engine.Generations.Stats()); // not open yet
        server.WarmUp.Release.SetResult();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!server.Server.IsReady && DateTime.UtcNow < deadline) await Task.Delay(20);
        using (var health = await anonymous.GetAsync("health"))
        {
            Assert.Equal(200, (int)health.StatusCode);
            Assert.Equal("""{"status":"ok"}""", await health.Content.ReadAsStringAsync());
        }
        (status, _) = await Api.PostAsync(server.Http, "v1/completions", request);
        Assert.Equal(200, status);
    }
}
