using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Storage.Catalog;
using Vib3.Engine;

namespace Vib3.Server.Http.Tests;

/// <summary>The server plus two models whose stored chat template was replaced after conversion (conversion itself
/// refuses such templates): "deep" nests 20,000 parentheses (it killed the process on the first chat request),
/// "slow" loops within every size limit but for minutes.</summary>
public sealed class HostileTemplateFixture : HttpServerFixture
{
    public const string Deep = "deep";
    public const string Slow = "slow";

    protected override void PrepareCatalog(ModelConverter converter, string source, ModelCatalog catalog)
    {
        base.PrepareCatalog(converter, source, catalog);
        Plant(converter, source, catalog, Deep, "{{ " + new string('(', 20_000) + "1" + new string(')', 20_000) + " }}");
        Plant(converter, source, catalog, Slow, "{% set s = 'x' * 10000000 %}{% for i in range(100000) %}{{ s.count('y') }}{% endfor %}");
    }

    private static void Plant(ModelConverter converter, string source, ModelCatalog catalog, string name, string template)
    {
        converter.Convert(new ConversionRequest(source, name, PageRows: 32));
        var config = Path.Combine(catalog.ModelDir(name), "tokenizer", "tokenizer_config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["chat_template"] = template;
        File.WriteAllText(config, json.ToJsonString());
    }
}

public sealed class HostileTemplateTests(HostileTemplateFixture server) : IClassFixture<HostileTemplateFixture>
{
    private static JsonObject Chat(string model) => new()
    {
        ["model"] = model, ["messages"] = JsonNode.Parse("[{\"role\":\"user\",\"content\":\"hi\"}]"), ["max_tokens"] = 2,
    };

    private async Task AssertStillServingAsync()
    {
        using var health = await server.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var (status, body) = await Api.PostAsync(server.Http, "v1/chat/completions", Chat(HttpServerFixture.Model));
        Assert.True(status == 200, body?.ToJsonString());
    }

    [Fact]
    public async Task A_template_nested_20000_deep_is_an_error_and_the_server_keeps_serving()
    {
        for (var i = 0; i < 2; i++)
        {
            var (status, body) = await Api.PostAsync(server.Http, "v1/chat/completions", Chat(HostileTemplateFixture.Deep));
            Assert.Equal(400, status);
            Assert.Equal("chat_template_limit_exceeded", (string?)Api.Error(body)["code"]); // not the context's code
            var message = (string?)Api.Error(body)["message"];
            Assert.StartsWith("chat template refused, it exceeds a limit: line 1: template nested deeper than 200 levels", message);
        }
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_template_that_runs_past_its_time_limit_is_an_error()
    {
        var clock = Stopwatch.StartNew();
        var (status, body) = await Api.PostAsync(server.Http, "v1/chat/completions", Chat(HostileTemplateFixture.Slow));
        Assert.Equal(400, status);
        Assert.Contains("rendering took longer than 2 s (JinjaLimits.MaxRenderTime)", (string?)Api.Error(body)["message"]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"answered after {clock.Elapsed}");
        await AssertStillServingAsync();
    }

    /// <summary>The engine renders with the statement's token (for HTTP the request's, linked to the client's
    /// connection): cancelling it stops the render at once, well before the template's 2 s time limit would.</summary>
    [Fact]
    public async Task Cancelling_the_statement_stops_the_render()
    {
        await server.Engine.Generations.WarmUpAsync(HostileTemplateFixture.Slow);
        var session = server.Engine.OpenSession(ClientAccess.LocalAdministrator);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in session.ExecuteAsync($"GENERATE CHAT (('user', 'hi')) FROM MODEL {HostileTemplateFixture.Slow} MAX_TOKENS 1", ct: cancel.Token)) { }
        });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopped after {clock.Elapsed}");
        await AssertStillServingAsync();
    }
}
