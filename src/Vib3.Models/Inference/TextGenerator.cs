using System.Runtime.CompilerServices;
using Vib3.Core;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Inference;

/// <summary>One prompt for <see cref="TextGenerator"/> (a single sequence through the forward pass, for the CLI and the
/// report tools).</summary>
/// <param name="Stop">Strings that end the generation; the text from a stop string on is not emitted.</param>
/// <param name="AddBos">Prepend BOS; null: as the tokenizer does by default. A rendered chat template that already
/// starts with the BOS text passes false.</param>
public sealed record TextGenerationRequest(
    string Prompt, int MaxTokens, SamplerOptions Sampling, IReadOnlyList<string> Stop, bool? AddBos = null);

/// <summary>Why a generation ended: "stop" (end-of-generation token or a stop string) or "length" (max tokens or
/// a full context).</summary>
public sealed class GenerationOutcome
{
    public string FinishReason { get; set; } = "length";
    public int PromptTokens { get; set; }
    /// <summary>Tokens produced, not counting the end-of-generation token that stopped it.</summary>
    public int GeneratedTokens { get; set; }
    public ulong Seed { get; set; }
    /// <summary>From the start (tokenizing) to the first sampled token: prompt processing, i.e. time to first token.</summary>
    public TimeSpan TimeToFirstToken { get; set; }
    /// <summary>From the start to the last token.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>Tokens per second after the first.</summary>
    public double DecodeTokensPerSecond =>
        GeneratedTokens > 1 && Elapsed > TimeToFirstToken ? (GeneratedTokens - 1) / (Elapsed - TimeToFirstToken).TotalSeconds : 0;
}

/// <summary>Text in, text out: tokenize the prompt, prefill it, then sample one token at a time, streaming the
/// decoded text (whole UTF-8 characters, stop strings held back) as it is produced.</summary>
public sealed class TextGenerator
{
    private readonly InferenceSession _session;
    private readonly ITextTokenizer _tokenizer;

    public TextGenerator(InferenceSession session, ITextTokenizer tokenizer)
    {
        var modelVocab = session.Forward.Hyper.Vocab;
        if (tokenizer.VocabSize > modelVocab)
            throw new Vib3Exception(SqlState.DataCorrupted,
                $"the tokenizer has {tokenizer.VocabSize} tokens but model '{session.Weights.Manifest.Name}' only {modelVocab}");
        _session = session;
        _tokenizer = tokenizer;
    }

    public async IAsyncEnumerable<string> GenerateAsync(
        TextGenerationRequest request, GenerationOutcome outcome, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var prompt = _tokenizer.Encode(request.Prompt, request.AddBos ?? _tokenizer.AddBosByDefault);
        var state = new GenerationState(_tokenizer, prompt, request.MaxTokens, request.Sampling, request.Stop);
        outcome.PromptTokens = prompt.Count;
        outcome.Seed = state.Seed;
        if (state.Finished) yield break;
        var cache = _session.Cache;

        var logits = (await _session.LogitsAsync(prompt, allPositions: false, ct).ConfigureAwait(false))[0];
        for (var first = true; ; first = false)
        {
            var text = state.Accept(logits);
            if (first) outcome.TimeToFirstToken = clock.Elapsed;
            outcome.Elapsed = clock.Elapsed;
            if (!state.Finished && cache.Length >= cache.Capacity) text += state.EndForFullContext();
            outcome.GeneratedTokens = state.Generated;
            outcome.FinishReason = state.FinishReason;
            if (text.Length > 0) yield return text;
            if (state.Finished) yield break;
            logits = await _session.Forward.DecodeAsync(state.NextInput, cache, ct).ConfigureAwait(false);
        }
    }
}
