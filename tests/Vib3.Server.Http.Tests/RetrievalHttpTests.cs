using Vib3.Engine;

namespace Vib3.Server.Http.Tests;

/// <summary>The fixture's model with a page index (CREATE INDEX through the same engine), so retrieval requests run.</summary>
public sealed class IndexedServerFixture : HttpServerFixture
{
    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        using var session = Engine.OpenSession(ClientAccess.LocalAdministrator);
        await foreach (var result in session.ExecuteAsync($"CREATE INDEX ON MODEL {Model}"))
            await foreach (var _ in result.Rows) { }
    }
}

/// <summary>OpenAI requests routed by retrieval through the "vib3" extension: the same plan as USING RETRIEVAL.</summary>
public sealed class RetrievalHttpTests(IndexedServerFixture server) : IClassFixture<IndexedServerFixture>
{
    [Fact]
    public async Task A_chat_request_routed_by_retrieval_completes()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/chat/completions", new
        {
            model = HttpServerFixture.Model, max_tokens = 6, temperature = 0,
            messages = new[] { new { role = "user", content = "hello" } },
            vib3 = new { routing = "retrieval", k = 2, ef = 16 },
        });
        Assert.True(status == 200, body?.ToJsonString());
        var choice = Assert.Single(body!["choices"]!.AsArray())!;
        Assert.NotNull((string?)choice["message"]!["content"]);
        Assert.InRange((int)body["usage"]!["completion_tokens"]!, 1, 6);
    }

    [Fact]
    public async Task A_bad_k_is_400_naming_the_field()
    {
        var (status, body) = await Api.PostAsync(server.Http, "v1/completions", new
        {
            model = HttpServerFixture.Model, prompt = "x", vib3 = new { routing = "retrieval", k = 0 },
        });
        Assert.Equal(400, status);
        Assert.Contains("k", (string?)Api.Error(body)["message"]);
    }
}
