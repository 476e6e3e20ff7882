using System.Text.Json;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Server.Http.Api;
using Vib3.Server.Http.Responses;

namespace Vib3.Server.Http.Requests;

/// <summary>Validates the fields completions and chat share and builds the statement; the endpoint's
/// <see cref="ApiFlavor"/> reads the prompt and the logprobs fields, whose shapes differ between the two.</summary>
internal static class RequestParser
{
    /// <summary>Choices per request: OpenAI's own limit for n.</summary>
    private const int MaxChoices = 128;

    public static CompletionRequest Parse(JsonElement root, ApiFlavor flavor)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new ApiException(400, "invalid_request_error", "invalid_json", "the request body must be a JSON object");
        UnicodeCheck.Check(root);
        var f = new JsonFields(root);
        var model = f.String("model");
        if (string.IsNullOrEmpty(model)) throw ApiException.Invalid("model", "'model' is required");
        var n = (int)(f.Integer("n", 1, MaxChoices) ?? 1);
        UnsupportedFields.Reject(f, n);
        f.String("user"); // accepted for compatibility (OpenAI uses it for abuse tracking); only its type is checked

        // max_completion_tokens replaced max_tokens in OpenAI's API; clients send one or the other.
        var maxTokens = f.Integer("max_completion_tokens", 1, int.MaxValue) ?? f.Integer("max_tokens", 1, int.MaxValue);
        var topP = f.Decimal("top_p", 0, 1);
        if (topP == 0) throw ApiException.Invalid("top_p", "'top_p' must be greater than 0");
        var stream = f.Bool("stream") ?? false;
        var options = Routing(f) with
        {
            Model = new Identifier(model, Quoted: true),
            MaxTokens = (int?)maxTokens ?? flavor.DefaultMaxTokens,
            Temperature = f.Decimal("temperature", 0, 2) ?? 1m, // OpenAI's default; 0 is greedy
            TopP = topP,
            // -1 and 0 are how other OpenAI-compatible servers spell "no top-k"
            TopK = f.Integer("top_k", -1, int.MaxValue) is { } k and > 0 ? (int)k : null,
            MinP = f.Decimal("min_p", 0, 1),
            Seed = f.Integer("seed", 0, long.MaxValue),
            // llama.cpp server's extensions, as the language's REPEAT_PENALTY and IGNORE_EOS
            RepeatPenalty = RepeatPenalty(f),
            IgnoreEos = f.Bool("ignore_eos") ?? false,
            Stop = new ValueList<Expression>(Stops(f).Select(s => (Expression)new StringLiteral(s))),
            Stream = stream,
        };
        var (statement, promptChars) = flavor.ParsePrompt(f, options);
        return new CompletionRequest(
            statement,
            MaxTokensGiven: maxTokens is not null,
            PresencePenalty: (double)(f.Decimal("presence_penalty", -2, 2) ?? 0),
            FrequencyPenalty: (double)(f.Decimal("frequency_penalty", -2, 2) ?? 0),
            new ChoiceOptions { Choices = n, TopLogprobs = flavor.ParseLogprobs(f) },
            stream,
            IncludeUsage: stream && (f.Object("stream_options")?.Bool("include_usage") ?? false),
            promptChars);
    }

    private static decimal? RepeatPenalty(JsonFields f) => f.Decimal("repeat_penalty", 0, decimal.MaxValue) switch
    {
        0 => throw ApiException.Invalid("repeat_penalty", "'repeat_penalty' must be greater than 0"),
        var p => p,
    };

    private static IReadOnlyList<string> Stops(JsonFields f)
    {
        var stops = f.StringOrList("stop", 4) ?? [];
        return stops.Any(s => s.Length == 0) ? throw ApiException.Invalid("stop", "stop strings must not be empty") : stops;
    }

    /// <summary>The vib3 extension <c>"vib3": {"routing": "router" | "retrieval", "k": 8, "ef": 64, "experts": 2,
    /// "prior": 1}</c>: the language's <c>USING ROUTER</c> / <c>USING RETRIEVAL k=8 ef=64 experts=2 prior=1</c>.</summary>
    private static GenerateOptions Routing(JsonFields f)
    {
        if (f.Object("vib3") is not { } v) return GenerateOptions.None;
        var k = (int?)v.Integer("k", 1, int.MaxValue);
        var ef = (int?)v.Integer("ef", 1, int.MaxValue);
        var experts = (int?)v.Integer("experts", 1, int.MaxValue);
        var prior = v.Decimal("prior", 0m, 1000m);
        var routing = v.String("routing");
        switch (routing)
        {
            case null or "router":
                if (new[] { ("k", k is not null), ("ef", ef is not null), ("experts", experts is not null), ("prior", prior is not null) }
                        .FirstOrDefault(x => x.Item2) is ({ } field, true))
                    throw ApiException.Invalid(v.Path(field), $"'vib3.{field}' applies to \"routing\": \"retrieval\" only");
                return routing is null ? GenerateOptions.None : new GenerateOptions { Routing = RoutingMode.Router };
            case "retrieval":
                return new GenerateOptions
                {
                    Routing = RoutingMode.Retrieval,
                    K = k ?? throw ApiException.Invalid(v.Path("k"), "\"routing\": \"retrieval\" needs 'vib3.k', the bundles to retrieve"),
                    Ef = ef,
                    Experts = experts,
                    Prior = prior,
                };
            default:
                throw ApiException.Invalid(v.Path("routing"), $"'vib3.routing' must be \"router\" or \"retrieval\", got \"{routing}\"");
        }
    }
}
