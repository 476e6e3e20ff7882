using System.ClientModel;
using OpenAI.Chat;

namespace Vib3.Server.Http.Tests;

/// <summary>The official OpenAI .NET client (2.15.0) against the server: what drop-in users will run.</summary>
public sealed class OpenAiChatTests(HttpServerFixture server) : IClassFixture<HttpServerFixture>
{
    private ChatClient Chat(string key = HttpServerFixture.ApiKey) => server.OpenAi(key).GetChatClient(HttpServerFixture.Model);

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    private static readonly ChatMessage[] Hello = [new SystemChatMessage("You are terse."), new UserChatMessage("Say hello")];

    [Fact]
    public async Task Chat_completion_has_content_finish_reason_and_usage()
    {
        var completion = (await Chat().CompleteChatAsync(Hello, Greedy(12))).Value;
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Contains(completion.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        Assert.Equal(HttpServerFixture.Model, completion.Model);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 12);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.True(completion.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_gives_the_same_greedy_text_and_ends_with_usage()
    {
        var whole = (await Chat().CompleteChatAsync(Hello, Greedy(16))).Value;
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var first = true;
        await foreach (var update in Chat().CompleteChatStreamingAsync(Hello, Greedy(16)))
        {
            if (first && update.Role is not null) Assert.Equal(ChatMessageRole.Assistant, update.Role);
            first = false;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.NotNull(usage); // the client asks for include_usage on every stream
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    [Fact]
    public async Task A_stop_string_from_the_greedy_output_cuts_the_text_before_it()
    {
        var full = (await Chat().CompleteChatAsync(Hello, Greedy(32))).Value.Content[0].Text;
        Assert.True(full.Length >= 8, $"greedy output too short to cut: '{full}'");
        var stop = full.Substring(full.Length / 2, 2);
        var options = Greedy(32);
        options.StopSequences.Add(stop);
        var cut = (await Chat().CompleteChatAsync(Hello, options)).Value;
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], cut.Content.Count == 0 ? "" : cut.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
    }

    [Fact]
    public async Task The_same_seed_repeats_and_another_seed_differs()
    {
        async Task<string> SampleAsync(long seed)
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
            var options = new ChatCompletionOptions { Temperature = 0.8f, MaxOutputTokenCount = 32, Seed = seed };
#pragma warning restore OPENAI001
            return (await Chat().CompleteChatAsync(Hello, options)).Value.Content[0].Text;
        }
        var a = await SampleAsync(5);
        Assert.Equal(a, await SampleAsync(5));
        Assert.NotEqual(a, await SampleAsync(6));
    }

    [Fact]
    public async Task Logprobs_are_reported_per_token_with_alternatives()
    {
        var options = Greedy(6);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        var completion = (await Chat().CompleteChatAsync(Hello, options)).Value;
        Assert.NotEmpty(completion.ContentTokenLogProbabilities);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(3, token.TopLogProbabilities.Count);
            Assert.All(token.TopLogProbabilities, t => Assert.True(t.LogProbability <= 0));
            // greedy: the sampled token is the likeliest
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability, 4);
        }
    }

    [Fact]
    public async Task The_api_key_is_required_and_checked()
    {
        Assert.NotEmpty((await Chat().CompleteChatAsync(Hello, Greedy(2))).Value.Content);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat("wrong-key").CompleteChatAsync(Hello, Greedy(2)));
        Assert.Equal(401, refused.Status);
    }

    [Fact]
    public async Task Models_lists_the_catalog()
    {
        var models = (await server.OpenAi().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Contains(models, m => m.Id == HttpServerFixture.Model && m.OwnedBy == "vib3");
        Assert.Equal(HttpServerFixture.Model, (await server.OpenAi().GetOpenAIModelClient().GetModelAsync(HttpServerFixture.Model)).Value.Id);
    }
}
