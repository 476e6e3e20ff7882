using Vib3.Core;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Inference;

/// <summary>A sampled token's log-probability (log-softmax of the model's logits, before any sampling filter) and
/// the <c>Top</c> most likely tokens at that position, best first.</summary>
public sealed record SampledToken(int Id, float Logprob, IReadOnlyList<(int Id, float Logprob)> Top);

/// <summary>One sequence's bookkeeping between forward passes: given the logits of its last position, sample the
/// next token, detect the end (end-of-generation token, stop string, max tokens), and turn tokens into text
/// (whole UTF-8 characters; text that may start a stop string is held back). Whoever runs the forward pass (one
/// sequence alone, or many in a batch) feeds it; it never touches the model. Not thread-safe.</summary>
public sealed class GenerationState
{
    private readonly ITextTokenizer _tokenizer;
    private readonly Sampler _sampler;
    private readonly List<int> _history;
    private readonly StreamingDecoder _decoder;
    private readonly StopMatcher _stops;
    private readonly int _maxTokens;
    private readonly int? _topLogprobs;
    private readonly bool _ignoreEndOfGeneration;

    /// <param name="prompt">The prompt's token ids (already encoded, BOS included if wanted).</param>
    /// <param name="topLogprobs">Null: no log-probabilities; otherwise report them with this many alternatives.</param>
    /// <param name="ignoreEndOfGeneration">Never sample an end-of-generation token (their logits are masked), so the
    /// sequence runs to its max tokens (a benchmark's fixed length; llama.cpp's ignore_eos).</param>
    public GenerationState(ITextTokenizer tokenizer, IReadOnlyList<int> prompt, int maxTokens, SamplerOptions sampling,
        IReadOnlyList<string> stop, int? topLogprobs = null, bool ignoreEndOfGeneration = false)
    {
        if (maxTokens < 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"max tokens must be 0 or more, not {maxTokens}");
        if (prompt.Count == 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "the prompt is empty (and the tokenizer adds no BOS token)");
        _tokenizer = tokenizer;
        _sampler = new Sampler(sampling);
        _history = [.. prompt];
        PromptLength = prompt.Count;
        _decoder = new StreamingDecoder(tokenizer);
        _stops = new StopMatcher(stop);
        _maxTokens = maxTokens;
        _ignoreEndOfGeneration = ignoreEndOfGeneration;
        _topLogprobs = topLogprobs;
        Finished = maxTokens == 0;
    }

    public int PromptLength { get; }

    /// <summary>The prompt followed by the tokens sampled so far.</summary>
    public IReadOnlyList<int> Tokens => _history;

    /// <summary>The sampler's seed (drawn when the options gave none), so a run can be repeated.</summary>
    public ulong Seed => _sampler.Seed;

    /// <summary>Tokens generated, the end-of-generation token not counted.</summary>
    public int Generated { get; private set; }

    public bool Finished { get; private set; }

    /// <summary>"stop" (end-of-generation token or stop string) or "length" (max tokens or a full context).</summary>
    public string FinishReason { get; private set; } = "length";

    /// <summary>The token to feed the model next (the last one sampled).</summary>
    public int NextInput => _history[^1];

    /// <summary>The log-probabilities of the token the last <see cref="Accept"/> sampled, when asked for.</summary>
    public SampledToken? LastSampled { get; private set; }

    /// <summary>Samples the next token from the logits [vocab] of the sequence's last position (the row is modified:
    /// ids past the tokenizer's vocabulary are masked). Returns the text that became final.</summary>
    public string Accept(float[] logits)
    {
        if (Finished) throw new InvalidOperationException("the sequence has already finished");
        MaskPadding(logits);
        var next = _sampler.Next(logits, _history, PromptLength);
        LastSampled = _topLogprobs is { } top ? Logprobs.Of(logits, next, top) : null;
        _history.Add(next);
        if (_tokenizer.IsEndOfGeneration(next))
        {
            FinishReason = "stop";
            return End();
        }
        Generated++;
        var (emit, stop) = _stops.Push(_decoder.Push(next));
        if (stop)
        {
            FinishReason = "stop";
            Finished = true;
            return emit; // the text from the stop string on is never emitted
        }
        return Generated == _maxTokens ? emit + End() : emit;
    }

    /// <summary>Ends the sequence because its context is full; returns the text still held back.</summary>
    public string EndForFullContext()
    {
        FinishReason = "length";
        return End();
    }

    /// <summary>Flushes the decoder and the stop matcher: an incomplete character becomes U+FFFD, held-back text that
    /// turned out not to be a stop string comes out.</summary>
    private string End()
    {
        Finished = true;
        var (tail, stopped) = _stops.Push(_decoder.Flush());
        if (stopped) FinishReason = "stop";
        return tail + (stopped ? "" : _stops.Flush());
    }

    /// <summary>Checkpoints often pad the model's vocabulary past the tokenizer's (e.g. to a multiple of 64): those
    /// ids have no text and must never be sampled.</summary>
    private void MaskPadding(float[] logits)
    {
        if (_tokenizer.VocabSize < logits.Length)
            logits.AsSpan(_tokenizer.VocabSize).Fill(float.NegativeInfinity);
        if (_ignoreEndOfGeneration)
            foreach (var id in _tokenizer.EndOfGenerationIds)
                if (id < logits.Length) logits[id] = float.NegativeInfinity;
    }
}
