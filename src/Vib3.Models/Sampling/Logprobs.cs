using Vib3.Models.Inference;

namespace Vib3.Models.Sampling;

/// <summary>Log-probabilities as OpenAI reports them: log-softmax of the raw logits (before temperature and filters).</summary>
public static class Logprobs
{
    /// <summary>The log-probability of <paramref name="token"/> and the <paramref name="top"/> most likely tokens, best
    /// first (lower id first among equals).</summary>
    public static SampledToken Of(ReadOnlySpan<float> logits, int token, int top)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits) if (v > max) max = v;
        double sum = 0;
        foreach (var v in logits) sum += Math.Exp(v - max);
        var logZ = max + (float)Math.Log(sum);

        var best = new List<(int Id, float Logprob)>(top + 1);
        for (var i = 0; i < logits.Length && top > 0; i++)
        {
            if (best.Count == top && logits[i] <= best[^1].Logprob + logZ) continue;
            var entry = (i, logits[i] - logZ);
            var at = best.FindIndex(b => b.Logprob < entry.Item2);
            if (at < 0) best.Add(entry); else best.Insert(at, entry);
            if (best.Count > top) best.RemoveAt(best.Count - 1);
        }
        return new SampledToken(token, logits[token] - logZ, best);
    }
}
