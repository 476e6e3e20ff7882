using Vib3.Engine;

namespace Vib3.Server.Http.Tests;

/// <summary>Requests that fail once their model is known are in the latency histograms too, as outcome "error":
/// they used to be in neither (only finished and cancelled requests were counted).</summary>
public sealed class ErrorOutcomeTests(MetricsAcrossReopenTests.Fixture server) : IClassFixture<MetricsAcrossReopenTests.Fixture>
{
    private const string EndToEnd = "vib3_e2e_request_latency_seconds_count{model=\"m\",outcome=\"error\"}";
    private const string FirstToken = "vib3_time_to_first_token_seconds_count{model=\"m\",outcome=\"error\"}";

    [Fact]
    public async Task A_prompt_too_long_for_the_context_is_counted_as_an_error()
    {
        var before = await Metrics.ScrapeAsync(server.Http);
        var prompt = string.Join(' ', Enumerable.Repeat("word", 4 * HttpServerFixture.Context));
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt, max_tokens = 2 });
        Assert.Equal(400, status);
        Api.Error(body);
        var after = await Metrics.ScrapeAsync(server.Http);
        Assert.Equal(1, Metrics.Get(after, EndToEnd) - Metrics.Baseline(before, EndToEnd));
    }

    [Fact]
    public async Task A_request_whose_model_is_dropped_while_it_runs_is_counted_as_an_error()
    {
        var before = await Metrics.ScrapeAsync(server.Http);
        var streaming = Api.StreamAsync(server.Http, "v1/completions",
            new { model = HttpServerFixture.Model, prompt = "Once upon a time", max_tokens = 1000, temperature = 0, stream = true });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (server.Engine.Generations.Stats().Sum(s => s.GeneratedTokens) == 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(1, server.Engine.Generations.Running); // generating its 1000 tokens

        using var session = server.Engine.OpenSession(ClientAccess.LocalAdministrator);
        await foreach (var _ in session.ExecuteAsync($"DROP MODEL {HttpServerFixture.Model}")) { }
        try
        {
            var events = await streaming; // the stream ends with an error event instead of [DONE]
            Assert.NotEqual("[DONE]", events[^1]);
            Assert.Contains("was dropped", events[^1]);
            var after = await Metrics.ScrapeAsync(server.Http);
            Assert.Equal(1, Metrics.Get(after, EndToEnd) - Metrics.Baseline(before, EndToEnd));
            Assert.Equal(1, Metrics.Get(after, FirstToken) - Metrics.Baseline(before, FirstToken));
        }
        finally
        {
            // the other test of this class needs the model
            await foreach (var _ in session.ExecuteAsync(
                               $"CREATE MODEL {HttpServerFixture.Model} FROM '{server.Source}' WITH (page_rows = 32)")) { }
        }
    }
}
