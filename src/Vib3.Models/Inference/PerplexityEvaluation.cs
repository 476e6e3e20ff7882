using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>A routing to score: its statement's forward program (the router's, or USING RETRIEVAL's) and, for
/// retrieval, the page index it searches.</summary>
public sealed record ScoredRouting(ForwardProgram Program, PageIndex? Index = null);

/// <summary>One window of the text: input tokens [Begin, End) fed from an empty cache, the predictions of positions
/// [ScoreFrom, End) scored (each the next token's); earlier positions are context only.</summary>
public readonly record struct PerplexityWindow(int Begin, int End, int ScoreFrom);

/// <summary>What <see cref="PerplexityEvaluation.RunAsync"/> measured: <paramref name="Tokens"/> predictions scored over
/// <paramref name="Windows"/> windows, their mean negative log-likelihood (nats), the expert bytes each token fed read
/// (<see cref="OperatorFigures.RowPageBytes"/> and, for router-first retrieval, the neuron keys it scored,
/// <see cref="OperatorFigures.RowKeyBytes"/>, over every Experts operator, per input token, context rows included), and
/// against a reference routing: the mean KL(reference ‖ scored) in nats and the share of positions where both put the
/// most probability on the same token (null without a reference).</summary>
public sealed record PerplexityResult(long Tokens, int Windows, double MeanNll, double ExpertBytesPerToken, double? Kl, double? Top1Agreement)
{
    public double Perplexity => Math.Exp(MeanNll);
}

/// <summary>Perplexity of a model over a token stream, as llama-perplexity and the usual sliding-window evaluation
/// measure it: windows of <c>context</c> tokens start every <c>stride</c> tokens, each from an empty cache; the first
/// window scores all its predictions, each later one only those the earlier windows did not (its first context −
/// stride positions are context), so every next token of the text is predicted exactly once. stride = context gives
/// disjoint windows. Each window is fed in batched steps through the forward pass; with a reference routing the same
/// rows run again under it, and each scored position's two distributions are compared.</summary>
public static class PerplexityEvaluation
{
    /// <summary>The windows of a text of <paramref name="tokens"/> tokens (tokens − 1 predictions); refuses (22023) a
    /// stride outside 1..context and a text with fewer predictions than one context.</summary>
    public static IReadOnlyList<PerplexityWindow> Windows(int tokens, int context, int stride)
    {
        if (context < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"the context must be at least 1 token, not {context}");
        if (stride < 1 || stride > context)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"the stride must be between 1 and the context ({context}), not {stride}");
        var predictions = tokens - 1; // inputs 0..tokens-2 predict tokens 1..tokens-1
        if (predictions < context)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"the text is {tokens} tokens, too short for a context of {context}: it needs at least {context + 1} (use a shorter context)");
        var windows = new List<PerplexityWindow>();
        for (int begin = 0, scored = 0; scored < predictions; begin += stride)
        {
            var end = Math.Min(begin + context, predictions);
            windows.Add(new PerplexityWindow(begin, end, scored));
            scored = end;
        }
        return windows;
    }

    /// <summary>Scores <paramref name="routing"/> on <paramref name="tokens"/>; with <paramref name="reference"/>, also
    /// against it. The pass must be this caller's alone while it runs.</summary>
    public static async Task<PerplexityResult> RunAsync(ForwardPass pass, IReadOnlyList<int> tokens, int context, int stride, ScoredRouting routing,
        ScoredRouting? reference, KvCacheType kvCache, CancellationToken ct = default)
    {
        var windows = Windows(tokens.Count, context, stride);
        var vocab = pass.Hyper.Vocab;
        var actuals = new StatementActuals(routing.Program);
        var logProbs = new float[ForwardPass.MaxBatchRows * vocab]; // [scored rows of a step, vocab]: the scored routing's
        var referenceLogProbs = new float[vocab];                    // [vocab]: one row's under the reference
        double nll = 0, kl = 0;
        long scored = 0, agreed = 0, fed = 0;
        foreach (var w in windows)
        {
            var cache = KvCache.For(pass.Hyper, w.End - w.Begin, kvCache);
            var referenceCache = reference is null ? null : KvCache.For(pass.Hyper, w.End - w.Begin, kvCache);
            for (var start = w.Begin; start < w.End; start += ForwardPass.MaxBatchRows)
            {
                var n = Math.Min(ForwardPass.MaxBatchRows, w.End - start);
                var wanted = Enumerable.Range(0, n).Where(i => start + i >= w.ScoreFrom).ToArray();
                var logits = await pass.StepAsync(Rows(tokens, start, n, w.Begin, cache, routing, actuals), wanted, ct).ConfigureAwait(false);
                for (var j = 0; j < wanted.Length; j++)
                {
                    var lse = LogSoftmax(logits[j], logProbs.AsSpan(j * vocab, vocab));
                    nll += lse - logits[j][tokens[start + wanted[j] + 1]];
                }
                if (reference is not null)
                {
                    var expected = await pass.StepAsync(Rows(tokens, start, n, w.Begin, referenceCache!, reference, null), wanted, ct).ConfigureAwait(false);
                    var lq = referenceLogProbs;
                    for (var j = 0; j < wanted.Length; j++)
                    {
                        LogSoftmax(expected[j], lq);
                        var lp = logProbs.AsSpan(j * vocab, vocab);
                        kl += Kl(lq, lp);
                        if (VectorOps.ArgMax(lq) == VectorOps.ArgMax(lp)) agreed++;
                    }
                }
                scored += wanted.Length;
                fed += n;
            }
            pass.Release(cache); // what the device holds of the window's caches
            if (referenceCache is not null) pass.Release(referenceCache);
        }
        var expertBytes = routing.Program.Operators.Where(o => o.Kind == OperatorKind.Experts).Sum(o => actuals[o.Id].RowPageBytes + actuals[o.Id].RowKeyBytes);
        return new PerplexityResult(scored, windows.Count, nll / scored, (double)expertBytes / fed,
            reference is null ? null : Math.Max(0, kl / scored), reference is null ? null : (double)agreed / scored);
    }

    private static StepRow[] Rows(IReadOnlyList<int> tokens, int start, int n, int begin, KvCache cache, ScoredRouting routing, StatementActuals? actuals) =>
        Enumerable.Range(0, n).Select(i => new StepRow(tokens[start + i], cache, start + i - begin, Program: routing.Program, Index: routing.Index,
            Actuals: actuals, Phase: StepPhase.Prefill)).ToArray();

    /// <summary>log softmax(logits) into <paramref name="result"/>; returns log Σ exp(logits), summed in double.</summary>
    private static double LogSoftmax(ReadOnlySpan<float> logits, Span<float> result)
    {
        double max = float.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        var lse = max + Math.Log(sum);
        for (var i = 0; i < logits.Length; i++) result[i] = (float)(logits[i] - lse);
        return lse;
    }

    /// <summary>KL(p ‖ q) = Σ p (ln p − ln q) of two log-probability vectors, in double.</summary>
    private static double Kl(ReadOnlySpan<float> p, ReadOnlySpan<float> q)
    {
        double kl = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var pi = Math.Exp(p[i]);
            if (pi > 0) kl += pi * (p[i] - q[i]);
        }
        return kl;
    }
}
