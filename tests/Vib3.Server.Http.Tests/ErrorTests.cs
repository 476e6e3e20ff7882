using System.Net;
using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Storage.Catalog;

namespace Vib3.Server.Http.Tests;

/// <summary>The server plus a model "broken" whose page table is gone, so the engine fails on it.</summary>
public sealed class BrokenModelFixture : HttpServerFixture
{
    protected override void PrepareCatalog(ModelConverter converter, string source, ModelCatalog catalog)
    {
        base.PrepareCatalog(converter, source, catalog);
        converter.Convert(new ConversionRequest(source, "broken", PageRows: 32));
        File.Delete(Path.Combine(catalog.ModelDir("broken"), "pages.tbl")); // PageTableFile.FileName (internal)
    }
}

/// <summary>Every error status, over raw HTTP: OpenAI's error shape, the right status, and <c>param</c> naming the field.</summary>
public sealed class ErrorTests(BrokenModelFixture server) : IClassFixture<BrokenModelFixture>
{
    private static readonly object[] Messages = [new { role = "user", content = "hi" }];

    private async Task<JsonNode> ExpectAsync(int status, string path, object body, string? param = null)
    {
        var (actual, json) = await Api.PostAsync(server.Http, path, body);
        Assert.True(status == actual, $"expected {status}, got {actual}: {json?.ToJsonString()}");
        var error = Api.Error(json);
        if (param is not null) Assert.Equal(param, (string?)error["param"]);
        return error;
    }

    private Task<JsonNode> ChatAsync(int status, object extra, string? param = null)
    {
        var body = new JsonObject { ["model"] = HttpServerFixture.Model, ["messages"] = JsonNode.Parse("[{\"role\":\"user\",\"content\":\"hi\"}]"), ["max_tokens"] = 2 };
        foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject()) body[k] = v?.DeepClone();
        return ExpectAsync(status, "v1/chat/completions", body, param);
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        var (status, body) = await Api.PostRawAsync(server.Http, "v1/chat/completions", "{\"model\": \"m\", ");
        Assert.Equal(400, status);
        Assert.Equal("invalid_json", (string?)Api.Error(body)["code"]);
        (status, body) = await Api.PostRawAsync(server.Http, "v1/completions", "[1, 2]");
        Assert.Equal(400, status);
        Api.Error(body);
    }

    [Theory]
    [InlineData("{\"temperature\": 2.5}", "temperature")]
    [InlineData("{\"temperature\": \"hot\"}", "temperature")]
    [InlineData("{\"top_p\": 0}", "top_p")]
    [InlineData("{\"min_p\": 1.5}", "min_p")]
    [InlineData("{\"seed\": -1}", "seed")]
    [InlineData("{\"max_tokens\": 0}", "max_tokens")]
    [InlineData("{\"max_completion_tokens\": -5}", "max_completion_tokens")]
    [InlineData("{\"n\": 0}", "n")]
    [InlineData("{\"presence_penalty\": 3}", "presence_penalty")]
    [InlineData("{\"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", "stop")]
    [InlineData("{\"stop\": [\"a\", 5]}", "stop[1]")]
    [InlineData("{\"top_logprobs\": 3}", "top_logprobs")]
    [InlineData("{\"logprobs\": true, \"top_logprobs\": 21}", "top_logprobs")]
    [InlineData("{\"messages\": []}", "messages")]
    [InlineData("{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", "messages[0].role")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}", "messages[0].content[0].type")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "messages[0].content")]
    [InlineData("{\"model\": null}", "model")]
    [InlineData("{\"vib3\": {\"routing\": \"psychic\"}}", "vib3.routing")]
    [InlineData("{\"vib3\": {\"routing\": \"retrieval\"}}", "vib3.k")]
    [InlineData("{\"stream_options\": 7, \"stream\": true}", "stream_options")]
    public Task Bad_chat_values_are_400_naming_the_field(string extra, string param) =>
        ChatAsync(400, JsonNode.Parse(extra)!, param);

    [Theory]
    [InlineData("{\"prompt\": [\"a\", \"b\"]}", "prompt")]
    [InlineData("{\"prompt\": [1, 2, 3]}", "prompt")]
    [InlineData("{\"prompt\": null}", "prompt")]
    [InlineData("{\"logprobs\": 6}", "logprobs")]
    [InlineData("{\"best_of\": 1, \"n\": 2}", "best_of")]
    public Task Bad_completion_values_are_400_naming_the_field(string extra, string param)
    {
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = HttpServerFixture.Model;
        if (!body.ContainsKey("prompt")) body["prompt"] = "x";
        return ExpectAsync(400, "v1/completions", body, param);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_400_context_length_exceeded()
    {
        var error = await ExpectAsync(400, "v1/completions", new { model = HttpServerFixture.Model, prompt = new string('x', 8 * HttpServerFixture.Context) });
        Assert.Equal("context_length_exceeded", (string?)error["code"]);
    }

    [Fact]
    public async Task A_missing_or_wrong_key_is_401_but_health_stays_open()
    {
        foreach (var key in new[] { null, "nope" })
        {
            using var http = server.NewHttpClient(key);
            var (status, body) = await Api.PostAsync(http, "v1/chat/completions", new { model = HttpServerFixture.Model, messages = Messages });
            Assert.Equal(401, status);
            Assert.Equal("invalid_api_key", (string?)Api.Error(body)["code"]);
            using var models = await http.GetAsync("v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
            using var health = await http.GetAsync("health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("ok", (string?)(await Api.ReadJsonAsync(health))!["status"]);
        }
    }

    [Fact]
    public async Task An_unknown_model_is_404_model_not_found()
    {
        var error = await ChatAsync(404, new { model = "no-such-model" }, "model");
        Assert.Equal("model_not_found", (string?)error["code"]);
        using var get = await server.Http.GetAsync("v1/models/no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Api.Error(await Api.ReadJsonAsync(get));
    }

    [Fact]
    public async Task Unknown_routes_are_404_and_wrong_methods_405_in_openai_s_shape()
    {
        using var missing = await server.Http.GetAsync("v1/engines");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Api.Error(await Api.ReadJsonAsync(missing));
        using var wrongMethod = await server.Http.GetAsync("v1/chat/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Api.Error(await Api.ReadJsonAsync(wrongMethod));
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions",
            new { model = HttpServerFixture.Model, prompt = new string('x', 100 << 10) });
        Assert.Equal(413, status);
        Assert.Equal("request_too_large", (string?)Api.Error(body)["code"]);
    }

    [Theory]
    [InlineData("{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}", "tools")]
    [InlineData("{\"tool_choice\": \"required\"}", "tool_choice")]
    [InlineData("{\"functions\": [{\"name\": \"f\"}]}", "functions")]
    [InlineData("{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {}}}", "response_format")]
    [InlineData("{\"response_format\": {\"type\": \"json_object\"}}", "response_format")]
    [InlineData("{\"logit_bias\": {\"5\": 10}}", "logit_bias")]
    public Task Unsupported_fields_are_501_naming_the_field(string extra, string param) =>
        ChatAsync(501, JsonNode.Parse(extra)!, param);

    [Theory]
    [InlineData("{\"echo\": true}", "echo")]
    [InlineData("{\"suffix\": \"end\"}", "suffix")]
    [InlineData("{\"best_of\": 3}", "best_of")]
    public Task Unsupported_completion_fields_are_501(string extra, string param)
    {
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = HttpServerFixture.Model;
        body["prompt"] = "x";
        return ExpectAsync(501, "v1/completions", body, param);
    }

    [Fact]
    public Task Retrieval_routing_is_501_until_the_page_index_exists() =>
        ChatAsync(501, new { vib3 = new { routing = "retrieval", k = 8, ef = 64 } });

    [Fact]
    public async Task An_engine_failure_is_500()
    {
        var error = await ChatAsync(500, new { model = "broken" });
        Assert.Equal("server_error", (string?)error["type"]);
    }
}
