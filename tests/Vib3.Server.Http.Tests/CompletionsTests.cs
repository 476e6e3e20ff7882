using System.Text.Json.Nodes;

namespace Vib3.Server.Http.Tests;

/// <summary>/v1/completions over raw HTTP (the 2.x OpenAI client has no legacy completions client), and the exact
/// shapes of responses and stream chunks of both endpoints.</summary>
public sealed class CompletionsTests(HttpServerFixture server) : IClassFixture<HttpServerFixture>
{
    private const string Prompt = "The capital of France is";

    private static object Request(int maxTokens, bool stream = false, object? extra = null) => Merge(new JsonObject
    {
        ["model"] = HttpServerFixture.Model, ["prompt"] = Prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream,
    }, extra);

    private static JsonObject Merge(JsonObject o, object? extra)
    {
        if (extra is not null)
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject())
                o[k] = v?.DeepClone();
        return o;
    }

    [Fact]
    public async Task A_completion_has_openai_s_shape()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", Request(8));
        Assert.Equal(200, status);
        Assert.StartsWith("cmpl-", (string)body!["id"]!, StringComparison.Ordinal);
        Assert.Equal("text_completion", (string)body["object"]!);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, body["created"]!.GetValueKind());
        Assert.Equal(HttpServerFixture.Model, (string)body["model"]!);
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(0, (int)choice["index"]!);
        Assert.NotNull((string?)choice["text"]);
        Assert.Null(choice["logprobs"]);
        Assert.Contains((string)choice["finish_reason"]!, new[] { "stop", "length" });
        var usage = body["usage"]!;
        Assert.Equal((int)usage["prompt_tokens"]! + (int)usage["completion_tokens"]!, (int)usage["total_tokens"]!);
        Assert.InRange((int)usage["completion_tokens"]!, 1, 8);
    }

    [Fact]
    public async Task Max_tokens_defaults_to_16()
    {
        var body = (await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = Prompt, temperature = 0 })).Body!;
        if ((string)body["choices"]![0]!["finish_reason"]! == "length") Assert.Equal(16, (int)body["usage"]!["completion_tokens"]!);
        else Assert.InRange((int)body["usage"]!["completion_tokens"]!, 0, 16);
    }

    [Fact]
    public async Task Streaming_completions_give_the_same_text_then_usage_then_done()
    {
        var whole = (await Api.PostAsync(server.Http, "v1/completions", Request(12))).Body!;
        var events = await Api.StreamAsync(server.Http, "v1/completions", Request(12, stream: true, new { stream_options = new { include_usage = true } }));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(whole["usage"]!.ToJsonString(), usageChunk["usage"]!.ToJsonString());
        var content = chunks[..^1];
        Assert.All(content, c =>
        {
            Assert.Equal("text_completion", (string)c["object"]!);
            Assert.True(c.AsObject().ContainsKey("usage") && c["usage"] is null);
        });
        Assert.Equal((string)whole["choices"]![0]!["text"]!, string.Concat(content.Select(c => (string)c["choices"]![0]!["text"]!)));
        Assert.Equal((string)whole["choices"]![0]!["finish_reason"]!, (string)content[^1]["choices"]![0]!["finish_reason"]!);
        Assert.All(content[..^1], c => Assert.Null(c["choices"]![0]!["finish_reason"]));
    }

    [Fact]
    public async Task Without_include_usage_a_stream_has_no_usage_at_all()
    {
        var events = await Api.StreamAsync(server.Http, "v1/completions", Request(4, stream: true));
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events[..^1], e => Assert.False(JsonNode.Parse(e)!.AsObject().ContainsKey("usage")));
    }

    [Fact]
    public async Task N_choices_are_all_answered_and_counted()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", Request(6, extra: new { n = 3, temperature = 0.9, seed = 11 }));
        Assert.Equal(200, status);
        var choices = body!["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => (int)c!["index"]!));
        Assert.All(choices, c => Assert.Contains((string)c!["finish_reason"]!, new[] { "stop", "length" }));
        Assert.InRange((int)body["usage"]!["completion_tokens"]!, 3, 18);
    }

    [Fact]
    public async Task Chat_streams_with_n_open_every_choice_with_the_role_and_finish_each()
    {
        var events = await Api.StreamAsync(server.Http, "v1/chat/completions", new
        {
            model = HttpServerFixture.Model, messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 5, n = 2,
            temperature = 0.7, seed = 3, stream = true, stream_options = new { include_usage = true },
        });
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string)c["object"]!));
        Assert.Single(chunks.Select(c => (string)c["id"]!).Distinct());
        for (var i = 0; i < 2; i++)
        {
            var mine = chunks.Where(c => c["choices"]!.AsArray().Count == 1 && (int)c["choices"]![0]!["index"]! == i)
                .Select(c => c["choices"]![0]!).ToList();
            Assert.Equal("assistant", (string)mine[0]["delta"]!["role"]!);
            Assert.All(mine.Skip(1), c => Assert.Null(c["delta"]!["role"]));
            Assert.Contains((string)mine[^1]["finish_reason"]!, new[] { "stop", "length" });
            Assert.All(mine[..^1], c => Assert.Null(c["finish_reason"]));
        }
        Assert.Empty(chunks[^1]["choices"]!.AsArray());
    }

    [Fact]
    public async Task Completion_logprobs_list_tokens_with_alternatives_and_offsets()
    {
        var body = (await Api.PostAsync(server.Http, "v1/completions", Request(5, extra: new { logprobs = 2 }))).Body!;
        var choice = body["choices"]![0]!;
        var logprobs = choice["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.NotEmpty(tokens);
        Assert.Equal((string)choice["text"]!, string.Concat(tokens));
        Assert.All(logprobs["token_logprobs"]!.AsArray(), l => Assert.True((double)l! <= 0));
        Assert.All(logprobs["top_logprobs"]!.AsArray(), t => Assert.InRange(t!.AsObject().Count, 1, 2));
        Assert.Equal(Prompt.Length, (int)logprobs["text_offset"]![0]!);
    }

    [Fact]
    public async Task Llama_server_s_ignore_eos_runs_to_max_tokens_and_repeat_penalty_is_checked()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", Request(20, extra: new { ignore_eos = true, repeat_penalty = 1.2 }));
        Assert.Equal(200, status);
        Assert.Equal(20, (int)body!["usage"]!["completion_tokens"]!);
        Assert.Equal("length", (string)body["choices"]![0]!["finish_reason"]!);
        var (bad, error) = await Api.PostAsync(server.Http, "v1/completions", Request(2, extra: new { repeat_penalty = 0 }));
        Assert.Equal(400, bad);
        Assert.Equal("'repeat_penalty' must be greater than 0", (string)error!["error"]!["message"]!);
    }

    [Fact]
    public async Task The_routing_extension_accepts_the_router()
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", Request(2, extra: new { vib3 = new { routing = "router" } }));
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Unknown_fields_are_ignored_and_nulls_mean_unset()
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions",
            Request(2, extra: new { some_future_field = new { x = 1 }, top_p = (double?)null, user = "me", tools = Array.Empty<object>() }));
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Concurrent_requests_batched_together_give_each_its_own_greedy_text()
    {
        var prompts = new[] { "One", "Two two", "Three three three", "Four" };
        async Task<string> TextAsync(string prompt) => (string)(await Api.PostAsync(server.Http, "v1/completions",
            new { model = HttpServerFixture.Model, prompt, max_tokens = 12, temperature = 0 })).Body!["choices"]![0]!["text"]!;
        var alone = new List<string>();
        foreach (var p in prompts) alone.Add(await TextAsync(p));
        var together = await Task.WhenAll(prompts.Concat(prompts).Select(TextAsync));
        Assert.Equal(alone.Concat(alone), together);
    }

    [Fact]
    public async Task Penalties_reach_the_sampler()
    {
        async Task<string> TextAsync(double penalty) => (string)(await Api.PostAsync(server.Http, "v1/completions",
            new { model = HttpServerFixture.Model, prompt = Prompt, max_tokens = 48, temperature = 0, frequency_penalty = penalty, presence_penalty = penalty }))
            .Body!["choices"]![0]!["text"]!;
        Assert.NotEqual(await TextAsync(0), await TextAsync(2));
    }
}
