using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Vib3.Engine;

namespace Vib3.Server.Http.Tests;

/// <summary>An engine whose batch holds one sequence and whose queue holds none: a second request while one runs is
/// refused at once.</summary>
public sealed class OneSlotFixture : HttpServerFixture
{
    protected override EngineOptions ConfigureEngine(EngineOptions options) => options with { MaxBatch = 1, MaxQueue = 0 };
}

/// <summary>Disconnects cancel generations, a full queue answers 429, and /metrics shows both. Greedy output of the
/// random model runs to max_tokens, so a 1000-token request is still running when the test acts.</summary>
public sealed class CancellationAndQueueTests(OneSlotFixture server) : IClassFixture<OneSlotFixture>
{
    private const int Long = 1000;

    private static object LongStream => new { model = HttpServerFixture.Model, prompt = "Once upon a time", max_tokens = Long, temperature = 0, stream = true };

    /// <summary>Starts a long streaming completion over a raw socket and reads up to its first event: the sequence
    /// is then running in the batch. Closing the socket is a real disconnect (HttpClient would instead keep the
    /// connection, draining the response to reuse it).</summary>
    private async Task<TcpClient> StartLongAsync()
    {
        var body = JsonSerializer.Serialize(LongStream);
        var client = new TcpClient { LingerState = new LingerOption(true, 0) }; // close = RST: gone at once
        await client.ConnectAsync(IPAddress.Loopback, server.Server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {HttpServerFixture.ApiKey}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}"));
        var seen = new StringBuilder();
        var buffer = new byte[256];
        static bool HasEvent(string s) => s.IndexOf("data: {", StringComparison.Ordinal) is >= 0 and var at && s.IndexOf("\n\n", at, StringComparison.Ordinal) > 0;
        while (!HasEvent(seen.ToString()))
        {
            var read = await stream.ReadAsync(buffer);
            Assert.True(read > 0, $"the server closed the stream: {seen}");
            seen.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        Assert.StartsWith("HTTP/1.1 200", seen.ToString(), StringComparison.Ordinal);
        return client;
    }

    private long GeneratedTokens() => server.Engine.Generations.Stats().Sum(s => s.GeneratedTokens);

    private async Task WaitUntilIdleAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (server.Engine.Generations.Running + server.Engine.Generations.Waiting != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, server.Engine.Generations.Running);
        Assert.Equal(0, Metrics.Get(await Metrics.ScrapeAsync(server.Http), "vib3_requests_running"));
    }

    [Fact]
    public async Task A_client_that_disconnects_stops_its_generation()
    {
        var before = GeneratedTokens();
        var client = await StartLongAsync();
        Assert.Equal(1, server.Engine.Generations.Running);
        client.Dispose();
        await WaitUntilIdleAsync();
        // stopped well before the 1000 tokens it asked for (they take seconds here)
        Assert.InRange(GeneratedTokens() - before, 1, Long / 2);
    }

    [Fact]
    public async Task A_cancelled_request_is_in_the_latency_histograms_as_cancelled()
    {
        const string EndToEnd = "vib3_e2e_request_latency_seconds_count{model=\"m\",outcome=\"cancelled\"}";
        const string FirstToken = "vib3_time_to_first_token_seconds_count{model=\"m\",outcome=\"cancelled\"}";
        var before = await Metrics.ScrapeAsync(server.Http);
        var client = await StartLongAsync(); // it saw its first event: a first token was generated
        client.Dispose();
        await WaitUntilIdleAsync();
        // the request's handler records it as it unwinds, just after the engine let the sequence go: wait for it
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var after = await Metrics.ScrapeAsync(server.Http);
        while (!after.ContainsKey(EndToEnd) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            after = await Metrics.ScrapeAsync(server.Http);
        }
        Assert.Equal(1, Metrics.Get(after, EndToEnd) - Metrics.Baseline(before, EndToEnd));
        Assert.Equal(1, Metrics.Get(after, FirstToken) - Metrics.Baseline(before, FirstToken));
    }

    [Fact]
    public async Task A_full_queue_is_429_and_the_slot_frees_when_the_first_client_leaves()
    {
        var client = await StartLongAsync();
        var (status, body) = await Api.PostAsync(server.Http, "v1/chat/completions",
            new { model = HttpServerFixture.Model, messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 2 });
        Assert.Equal(429, status);
        Assert.Equal("rate_limit_error", (string?)Api.Error(body)["type"]);
        client.Dispose();
        await WaitUntilIdleAsync();
        (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 2 });
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Metrics_parse_and_move_with_a_request()
    {
        var before = await Metrics.ScrapeAsync(server.Http);
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 4, temperature = 0 });
        Assert.Equal(200, status);
        var after = await Metrics.ScrapeAsync(server.Http);
        double Delta(string key) => Metrics.Get(after, key) - Metrics.Baseline(before, key);
        Assert.Equal(1, Delta("vib3_http_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"));
        Assert.Equal(4, Delta("vib3_generation_tokens_total{model=\"m\"}"));
        Assert.True(Delta("vib3_prompt_tokens_total{model=\"m\"}") > 0);
        Assert.Equal(1, Delta("vib3_time_to_first_token_seconds_count{model=\"m\",outcome=\"finished\"}"));
        Assert.Equal(1, Delta("vib3_e2e_request_latency_seconds_count{model=\"m\",outcome=\"finished\"}"));
        Assert.True(Delta("vib3_inter_token_latency_seconds_count{model=\"m\"}") >= 1);
        Assert.True(Delta("vib3_tier_hits_total{model=\"m\"}") + Delta("vib3_tier_misses_total{model=\"m\"}") > 0);
        Assert.True(Delta("vib3_batch_steps_total{model=\"m\"}") >= 4);
        Assert.True(after.ContainsKey("vib3_pages_read_per_token{model=\"m\"}"));
        // the fixture's model has 2 layers: every token's layer-1 choices (top-2) were predicted during layer 0
        Assert.True(Delta("vib3_routed_choices_total{model=\"m\"}") >= 2 * 4);
        Assert.True(Delta("vib3_predicted_choices_total{model=\"m\"}") <= Delta("vib3_routed_choices_total{model=\"m\"}"));
        Assert.True(after.ContainsKey("vib3_prefetch_pages_total{model=\"m\"}"));
        Assert.True(after.ContainsKey("vib3_page_wait_seconds_total{model=\"m\"}"));
        Assert.True(Delta("vib3_expert_page_hits_total{model=\"m\",layer=\"0\"}") + Delta("vib3_expert_page_misses_total{model=\"m\",layer=\"0\"}") >= 4,
            "every token read layer 0's expert pages");
        Assert.True(after.ContainsKey("vib3_requests_waiting"));
    }
}
