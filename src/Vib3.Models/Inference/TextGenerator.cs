using System.Runtime.CompilerServices;
using Vib3.Core;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Inference;

/// <param name="Stop">Strings that end the generation; the text from a stop string on is not emitted.</param>
/// <param name="AddBos">Prepend BOS; null: as the tokenizer does by default. A rendered chat template that already
/// starts with the BOS text passes false.</param>
public sealed record GenerationRequest(
    string Prompt, int MaxTokens, SamplerOptions Sampling, IReadOnlyList<string> Stop, bool? AddBos = null);

/// <summary>Why a generation ended: "stop" (end-of-generation token or a stop string) or "length" (max tokens or
/// a full context).</summary>
public sealed class GenerationOutcome
{
    public string FinishReason { get; internal set; } = "length";
    public int PromptTokens { get; internal set; }
    /// <summary>Tokens produced, not counting the end-of-generation token that stopped it.</summary>
    public int GeneratedTokens { get; internal set; }
    public ulong Seed { get; internal set; }
    /// <summary>From the start (tokenizing) to the first sampled token: prompt processing, i.e. time to first token.</summary>
    public TimeSpan TimeToFirstToken { get; internal set; }
    /// <summary>From the start to the last token.</summary>
    public TimeSpan Elapsed { get; internal set; }

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
        GenerationRequest request, GenerationOutcome outcome, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (request.MaxTokens < 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"max tokens must be 0 or more, not {request.MaxTokens}");
        var prompt = _tokenizer.Encode(request.Prompt, request.AddBos ?? _tokenizer.AddBosByDefault);
        if (prompt.Count == 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "the prompt is empty (and the tokenizer adds no BOS token)");
        outcome.PromptTokens = prompt.Count;
        if (request.MaxTokens == 0) yield break;
        var sampler = new Sampler(request.Sampling);
        outcome.Seed = sampler.Seed;
        var history = new List<int>(prompt);
        var decoder = new StreamingDecoder(_tokenizer);
        var stops = new StopMatcher(request.Stop);
        var cache = _session.Cache;

        var logits = (await _session.LogitsAsync(prompt, allPositions: false, ct).ConfigureAwait(false))[0];
        for (var i = 0; i < request.MaxTokens; i++)
        {
            MaskPadding(logits);
            var next = sampler.Next(logits, history);
            history.Add(next);
            if (i == 0) outcome.TimeToFirstToken = clock.Elapsed;
            outcome.Elapsed = clock.Elapsed;
            if (_tokenizer.IsEndOfGeneration(next))
            {
                outcome.FinishReason = "stop";
                break;
            }
            outcome.GeneratedTokens++;
            var (emit, stop) = stops.Push(decoder.Push(next));
            if (emit.Length > 0) yield return emit;
            if (stop)
            {
                outcome.FinishReason = "stop";
                yield break;
            }
            if (i + 1 == request.MaxTokens || cache.Length >= cache.Capacity) break;
            logits = await _session.Forward.DecodeAsync(next, cache, ct).ConfigureAwait(false);
        }
        var (tail, stopped) = stops.Push(decoder.Flush());
        if (stopped) outcome.FinishReason = "stop";
        var rest = tail + (stopped ? "" : stops.Flush());
        if (rest.Length > 0) yield return rest;
    }

    /// <summary>Checkpoints often pad the model's vocabulary past the tokenizer's (e.g. to a multiple of 64): those
    /// ids have no text and must never be sampled.</summary>
    private void MaskPadding(float[] logits)
    {
        if (_tokenizer.VocabSize < logits.Length)
            logits.AsSpan(_tokenizer.VocabSize).Fill(float.NegativeInfinity);
    }
}
