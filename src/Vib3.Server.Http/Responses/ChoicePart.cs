using Vib3.Engine.Serving;

namespace Vib3.Server.Http.Responses;

/// <summary>One choice's content in a response or a stream chunk.</summary>
/// <param name="Text">The text; null in a chunk that only ends the choice.</param>
/// <param name="Logprobs">The tokens behind the text; null when logprobs were not asked for.</param>
/// <param name="FinishReason">"stop" or "length" once the choice ended, else null.</param>
/// <param name="TextOffset">Where the text starts, counted from the prompt's start (completions' text_offset).</param>
/// <param name="Role">Chat streams: the choice's first chunk, which carries the assistant role.</param>
internal readonly record struct ChoicePart(
    int Index, string? Text, IReadOnlyList<TokenLogprob>? Logprobs, string? FinishReason, int TextOffset, bool Role = false);
