namespace Vib3.Engine.Serving;

/// <summary>Something that happened to one choice (sequence) of a running generation.</summary>
/// <param name="Choice">0-based index of the choice (OpenAI's n: several sequences from one prompt).</param>
public abstract record GenerationEvent(int Choice);

/// <summary>New text of a choice: whole UTF-8 characters, stop strings held back and never emitted.</summary>
/// <param name="Logprobs">The tokens that produced this text (requested logprobs only; empty otherwise). A token whose
/// bytes do not yet complete a character is reported with the delta that completes it.</param>
public sealed record TextDelta(int Choice, string Text, IReadOnlyList<TokenLogprob> Logprobs) : GenerationEvent(Choice);

/// <summary>A choice ended; no more events for it.</summary>
/// <param name="FinishReason">"stop" (end-of-generation token or a stop string) or "length" (max tokens or a full context).</param>
/// <param name="CompletionTokens">Tokens generated, the end-of-generation token not counted.</param>
/// <param name="TimeToFirstToken">From submission (queueing included) to the first sampled token.</param>
/// <param name="Elapsed">From submission to the end.</param>
public sealed record ChoiceFinished(int Choice, string FinishReason, int CompletionTokens, TimeSpan TimeToFirstToken, TimeSpan Elapsed)
    : GenerationEvent(Choice);

/// <summary>A sampled token with its log-probability under the model (log-softmax of the raw logits, before any
/// sampling filter) and the most likely alternatives at that position.</summary>
public sealed record TokenLogprob(int Id, string Text, byte[] Bytes, float Logprob, IReadOnlyList<TokenAlternative> Top);

/// <summary>One of the most likely tokens at a position.</summary>
public sealed record TokenAlternative(int Id, string Text, byte[] Bytes, float Logprob);
