using System.Text.Json;
using Vib3.Query;
using Vib3.Server.Http.Requests;

namespace Vib3.Server.Http.Responses;

/// <summary>What differs between /v1/completions and /v1/chat/completions: the prompt field, the logprobs fields,
/// defaults, and the JSON of a choice. Everything else (validation, planning, streaming, usage) is shared.</summary>
internal abstract class ApiFlavor
{
    public abstract string Route { get; }
    public abstract string IdPrefix { get; }
    public abstract string ObjectName { get; }
    public abstract string ChunkObjectName { get; }

    /// <summary>max_tokens when the request has none; null: up to the end of the context.</summary>
    public abstract int? DefaultMaxTokens { get; }

    /// <summary>Whether a stream opens each choice with a chunk of its own (chat's role chunk).</summary>
    public abstract bool OpensChoices { get; }

    public abstract (GenerationStatement Statement, int PromptChars) ParsePrompt(JsonFields f, GenerateOptions options);

    /// <summary>The alternatives per token to report (0..20), or null for no logprobs.</summary>
    public abstract int? ParseLogprobs(JsonFields f);

    /// <summary>Writes one element of "choices": the whole choice, or with <paramref name="chunk"/> a stream delta.</summary>
    public abstract void WriteChoice(Utf8JsonWriter w, in ChoicePart part, bool chunk);
}
