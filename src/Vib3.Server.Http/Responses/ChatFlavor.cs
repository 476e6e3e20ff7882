using System.Text.Json;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Server.Http.Api;
using Vib3.Server.Http.Requests;

namespace Vib3.Server.Http.Responses;

/// <summary>/v1/chat/completions: messages rendered with the model's chat template, choices as messages.</summary>
internal sealed class ChatFlavor : ApiFlavor
{
    public static readonly ChatFlavor Instance = new();

    public override string Route => "/v1/chat/completions";
    public override string IdPrefix => "chatcmpl-";
    public override string ObjectName => "chat.completion";
    public override string ChunkObjectName => "chat.completion.chunk";
    public override int? DefaultMaxTokens => null;
    public override bool OpensChoices => true;

    public override (GenerationStatement, int) ParsePrompt(JsonFields f, GenerateOptions options)
    {
        if (f.Get("messages") is not { ValueKind: JsonValueKind.Array } messages || messages.GetArrayLength() == 0)
            throw ApiException.Invalid("messages", "'messages' must be a non-empty list of messages");
        var list = messages.EnumerateArray().Select((m, i) => Message(m, $"messages[{i}]")).ToList();
        return (new GenerateChat(new ValueList<ChatMessage>(list), options), 0);
    }

    private static ChatMessage Message(JsonElement m, string path)
    {
        if (m.ValueKind != JsonValueKind.Object) throw ApiException.Invalid(path, $"'{path}' must be an object");
        var f = new JsonFields(m, path + ".");
        var role = f.String("role") switch
        {
            null => throw ApiException.Invalid(f.Path("role"), $"'{f.Path("role")}' is required"),
            "developer" => "system", // OpenAI's newer name for the system role
            var r when r is "system" or "user" or "assistant" or "tool" => r,
            var r => throw ApiException.Invalid(f.Path("role"), $"'{f.Path("role")}' must be system, developer, user, assistant or tool, got \"{r}\""),
        };
        if (f.Get("tool_calls") is { ValueKind: JsonValueKind.Array } calls && calls.GetArrayLength() > 0)
            throw ApiException.Unsupported(f.Path("tool_calls"), "tool calls in messages are not supported");
        return new ChatMessage(new StringLiteral(role), new StringLiteral(Content(f)));
    }

    /// <summary>A string, or a list of text parts (joined by newlines); images, audio and files are not supported.</summary>
    private static string Content(JsonFields f)
    {
        var path = f.Path("content");
        switch (f.Get("content"))
        {
            case { ValueKind: JsonValueKind.String } s: return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                return string.Join("\n", parts.EnumerateArray().Select((p, j) =>
                {
                    var part = new JsonFields(p.ValueKind == JsonValueKind.Object ? p
                        : throw ApiException.Invalid($"{path}[{j}]", $"'{path}[{j}]' must be an object"), $"{path}[{j}].");
                    return part.String("type") switch
                    {
                        "text" => part.String("text") ?? throw ApiException.Invalid(part.Path("text"), $"'{part.Path("text")}' is required"),
                        var t => throw ApiException.Invalid(part.Path("type"), $"content parts of type \"{t}\" are not supported (text only)"),
                    };
                }));
            case null: throw ApiException.Invalid(path, $"'{path}' is required");
            default: throw ApiException.Invalid(path, $"'{path}' must be a string or a list of text parts");
        }
    }

    /// <summary>Chat's <c>logprobs: true</c> plus <c>top_logprobs: 0..20</c> (which needs logprobs on).</summary>
    public override int? ParseLogprobs(JsonFields f)
    {
        var top = (int?)f.Integer("top_logprobs", 0, 20);
        if (f.Bool("logprobs") == true) return top ?? 0;
        return top is null ? null : throw ApiException.Invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    }

    public override void WriteChoice(Utf8JsonWriter w, in ChoicePart part, bool chunk)
    {
        w.WriteStartObject();
        w.WriteNumber("index", part.Index);
        w.WriteStartObject(chunk ? "delta" : "message");
        if (!chunk || part.Role) w.WriteString("role", "assistant");
        if (part.Text is not null) w.WriteString("content", part.Text);
        if (!chunk) w.WriteNull("refusal");
        w.WriteEndObject();
        if (part.Logprobs is { } logprobs) WriteLogprobs(w, logprobs);
        else w.WriteNull("logprobs");
        w.WriteString("finish_reason", part.FinishReason);
        w.WriteEndObject();
    }

    private static void WriteLogprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> tokens)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            WriteToken(w, t.Text, t.Bytes, t.Logprob);
            w.WriteStartArray("top_logprobs");
            foreach (var alt in t.Top)
            {
                w.WriteStartObject();
                WriteToken(w, alt.Text, alt.Bytes, alt.Logprob);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    private static void WriteToken(Utf8JsonWriter w, string text, byte[] bytes, float logprob)
    {
        w.WriteString("token", text);
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (var b in bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}
