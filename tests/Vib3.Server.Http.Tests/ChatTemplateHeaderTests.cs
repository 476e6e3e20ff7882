using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Storage.Catalog;

namespace Vib3.Server.Http.Tests;

/// <summary>"m" is converted with a chat template outside vib3's Jinja subset ({% include %}).</summary>
public sealed class OutsideSubsetTemplateFixture : HttpServerFixture
{
    protected override void PrepareCatalog(ModelConverter converter, string source, ModelCatalog catalog)
    {
        var path = Path.Combine(source, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        config["chat_template"] = "{% include 'roles.jinja' %}{{ messages[0]['content'] }}";
        File.WriteAllText(path, config.ToJsonString());
        base.PrepareCatalog(converter, source, catalog);
    }
}

/// <summary>A chat completion whose messages were rendered with the family's built-in format instead of the model's
/// template says so in X-Vib3-Chat-Template, with the reason; a text completion has no such header.</summary>
public sealed class ChatTemplateHeaderTests(OutsideSubsetTemplateFixture server) : IClassFixture<OutsideSubsetTemplateFixture>
{
    private static readonly object[] Hi = [new { role = "user", content = "hi" }];

    private async Task<HttpResponseMessage> PostAsync(string path, object body)
    {
        var response = await server.Http.PostAsync(path, new StringContent(System.Text.Json.JsonSerializer.Serialize(body),
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)response.StatusCode);
        return response;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_chat_completion_rendered_with_the_built_in_format_says_why(bool stream)
    {
        using var response = await PostAsync("v1/chat/completions", new { model = HttpServerFixture.Model, messages = Hi, max_tokens = 2, stream });
        Assert.True(response.Headers.TryGetValues("X-Vib3-Chat-Template", out var values), "no X-Vib3-Chat-Template header");
        var value = Assert.Single(values);
        Assert.StartsWith("builtin; reason=\"the model's template is outside vib3's Jinja subset: ", value);
        Assert.Contains("include", value);
    }

    [Fact]
    public async Task A_text_completion_has_no_chat_template_header()
    {
        using var response = await PostAsync("v1/completions", new { model = HttpServerFixture.Model, prompt = "hi", max_tokens = 2 });
        Assert.False(response.Headers.Contains("X-Vib3-Chat-Template"));
    }
}
