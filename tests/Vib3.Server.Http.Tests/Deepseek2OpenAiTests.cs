using System.Net;
using System.Net.Http.Json;
using OpenAI.Chat;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Server.Http.Tests;

/// <summary>The server over a deepseek2 model "m" (MLA, a dense first layer, grouped sigmoid routing with a selection
/// bias, a shared expert).</summary>
public sealed class Deepseek2ServerFixture : HttpServerFixture
{
    protected override SyntheticModelSpec Spec => SyntheticCheckpoints.Small(ModelFamily.Deepseek2, DType.F32) with
    {
        Layers = 3, Experts = 8, TopK = 3, ExpertGroups = 4, GroupsUsed = 2, ExpertHidden = 32, Context = Context,
    };
}

/// <summary>The official OpenAI client against a deepseek2 model: chat (rendered with the family's built-in DeepSeek-V3
/// template, the synthetic tokenizer having none), streaming equal to the whole answer, and the vib3 retrieval
/// extension answered 501 (not supported on this router).</summary>
public sealed class Deepseek2OpenAiTests(Deepseek2ServerFixture server) : IClassFixture<Deepseek2ServerFixture>
{
    private ChatClient Chat() => server.OpenAi().GetChatClient(HttpServerFixture.Model);

    private static readonly ChatMessage[] Hello = [new SystemChatMessage("You are terse."), new UserChatMessage("Say hello")];

    [Fact]
    public async Task Chat_streams_the_same_greedy_answer_it_returns_whole()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        var whole = (await Chat().CompleteChatAsync(Hello, options)).Value;
        Assert.True(whole.Usage.InputTokenCount > 0);
        Assert.InRange(whole.Usage.OutputTokenCount, 1, 16);
        var text = new System.Text.StringBuilder();
        await foreach (var update in Chat().CompleteChatStreamingAsync(Hello, options))
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        Assert.Equal(whole.Content[0].Text, text.ToString());
    }

    [Fact]
    public async Task Retrieval_routing_is_not_implemented_for_this_router()
    {
        using var response = await server.Http.PostAsJsonAsync("v1/completions", new
        {
            model = HttpServerFixture.Model, prompt = "a", max_tokens = 2, vib3 = new { routing = "retrieval", k = 2 },
        });
        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        Assert.Contains("deepseek2", await response.Content.ReadAsStringAsync());
    }
}
