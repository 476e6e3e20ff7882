using System.Text.Json;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Server.Http.Api;
using Vib3.Server.Http.Requests;

namespace Vib3.Server.Http.Responses;

/// <summary>/v1/completions: a raw text prompt continued as is; choices carry text.</summary>
internal sealed class TextFlavor : ApiFlavor
{
    public static readonly TextFlavor Instance = new();

    public override string Route => "/v1/completions";
    public override string IdPrefix => "cmpl-";
    public override string ObjectName => "text_completion";
    public override string ChunkObjectName => "text_completion";
    public override int? DefaultMaxTokens => 16; // OpenAI's default for this endpoint
    public override bool OpensChoices => false;

    /// <summary>A string, or a list holding one string. Several prompts per request and token-id prompts are refused.</summary>
    public override (GenerationStatement, int) ParsePrompt(JsonFields f, GenerateOptions options)
    {
        var prompt = f.Get("prompt") switch
        {
            null => throw ApiException.Invalid("prompt", "'prompt' is required"),
            { ValueKind: JsonValueKind.String } s => s.GetString()!,
            { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() == 1 && a[0].ValueKind == JsonValueKind.String => a[0].GetString()!,
            { ValueKind: JsonValueKind.Array } => throw ApiException.Invalid("prompt",
                "'prompt' must be one string (a list of several prompts, or of token ids, is not supported)"),
            _ => throw ApiException.Invalid("prompt", "'prompt' must be a string"),
        };
        return (new Generate(new StringLiteral(prompt), options), prompt.Length);
    }

    /// <summary>The legacy <c>logprobs: 0..5</c>: the sampled token's logprob plus that many alternatives.</summary>
    public override int? ParseLogprobs(JsonFields f) => (int?)f.Integer("logprobs", 0, 5);

    public override void WriteChoice(Utf8JsonWriter w, in ChoicePart part, bool chunk)
    {
        w.WriteStartObject();
        w.WriteString("text", part.Text ?? "");
        w.WriteNumber("index", part.Index);
        if (part.Logprobs is { } logprobs) WriteLogprobs(w, logprobs, part.TextOffset);
        else w.WriteNull("logprobs");
        w.WriteString("finish_reason", part.FinishReason);
        w.WriteEndObject();
    }

    private static void WriteLogprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> tokens, int offset)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var t in tokens) w.WriteStringValue(t.Text);
        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var t in tokens) w.WriteNumberValue(t.Logprob);
        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            // a map from token text to logprob: two alternatives decoding to the same text keep the likelier
            foreach (var alt in t.Top.DistinctBy(a => a.Text)) w.WriteNumber(alt.Text, alt.Logprob);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (var t in tokens)
        {
            w.WriteNumberValue(offset);
            offset += t.Text.Length;
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
