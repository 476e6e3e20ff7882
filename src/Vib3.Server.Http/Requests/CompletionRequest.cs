using Vib3.Engine.Serving;
using Vib3.Query;

namespace Vib3.Server.Http.Requests;

/// <summary>A completions or chat request after validation: the statement the SQL parser would have produced for
/// it, plus what the language has no words for.</summary>
/// <param name="MaxTokensGiven">False: the endpoint's default applies (chat: the rest of the context).</param>
/// <param name="PromptChars">Length of a completions prompt: OpenAI's text_offset counts from the prompt's start.</param>
internal sealed record CompletionRequest(
    GenerationStatement Statement,
    bool MaxTokensGiven,
    double PresencePenalty,
    double FrequencyPenalty,
    ChoiceOptions Engine,
    bool Stream,
    bool IncludeUsage,
    int PromptChars);
