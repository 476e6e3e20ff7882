using System.Text.Json;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Responses;

/// <summary>The envelope OpenAI clients parse around choices: id, object, created (an integer Unix time: the .NET
/// client throws on anything else), model, choices, usage.</summary>
internal sealed class ResponseJson(ApiFlavor flavor, string model)
{
    private readonly string _id = flavor.IdPrefix + Guid.NewGuid().ToString("N")[..24];
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public byte[] Completion(IEnumerable<ChoicePart> choices, Usage usage) => Write(flavor.ObjectName, w =>
    {
        w.WriteStartArray("choices");
        foreach (var c in choices) flavor.WriteChoice(w, c, chunk: false);
        w.WriteEndArray();
        usage.Write(w);
    });

    /// <summary>A stream chunk with one choice; with include_usage every such chunk says "usage": null.</summary>
    public byte[] Chunk(in ChoicePart part, bool includeUsage)
    {
        var copy = part; // an 'in' parameter cannot be captured by the lambda
        return Write(flavor.ChunkObjectName, w =>
        {
            w.WriteStartArray("choices");
            flavor.WriteChoice(w, copy, chunk: true);
            w.WriteEndArray();
            if (includeUsage) w.WriteNull("usage");
        });
    }

    /// <summary>The last chunk of an include_usage stream: no choices, the request's usage.</summary>
    public byte[] UsageChunk(Usage usage) => Write(flavor.ChunkObjectName, w =>
    {
        w.WriteStartArray("choices");
        w.WriteEndArray();
        usage.Write(w);
    });

    private byte[] Write(string objectName, Action<Utf8JsonWriter> body) => JsonBytes.Object(w =>
    {
        w.WriteString("id", _id);
        w.WriteString("object", objectName);
        w.WriteNumber("created", _created);
        w.WriteString("model", model);
        body(w);
    });
}

/// <summary>Token counts of a request: the prompt once, the completions of all choices.</summary>
internal readonly record struct Usage(int PromptTokens, int CompletionTokens)
{
    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", PromptTokens);
        w.WriteNumber("completion_tokens", CompletionTokens);
        w.WriteNumber("total_tokens", PromptTokens + CompletionTokens);
        w.WriteEndObject();
    }
}
