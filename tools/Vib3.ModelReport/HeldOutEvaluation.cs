using Vib3.Models.Inference;

namespace Vib3.ModelReport;

/// <summary>Held-out cross-entropy of vib3's logits over the training script's windows, and the router's choices
/// over the same tokens (the forward pass's own <see cref="RoutingStats"/>, reset first).</summary>
internal sealed record HeldOutResult(double Loss, long Tokens, int Windows, RoutingStats Routing)
{
    public double Perplexity => Math.Exp(Loss);
}

internal static class HeldOutEvaluation
{
    /// <summary>vib3 perplexity's evaluation (<see cref="PerplexityEvaluation"/>) over the training script's windows:
    /// disjoint windows of <paramref name="window"/> tokens, each from an empty cache, every prediction scored.</summary>
    /// <param name="maxWindows">Evaluate only the first windows (all by default).</param>
    public static async Task<HeldOutResult> RunAsync(SequencePass pass, HeldOutText text, int window, CancellationToken ct,
        int maxWindows = int.MaxValue)
    {
        pass.Forward.Routing.Reset();
        var windows = (int)Math.Min(maxWindows, (text.Stream.Length - 1L) / window);
        var result = await PerplexityEvaluation.RunAsync(pass.Forward, text.Stream[..(windows * window + 1)], window, window,
            new ScoredRouting(ForwardProgram.Build(pass.Weights.Manifest)), null, pass.Cache.Type, ct);
        return new HeldOutResult(result.MeanNll, result.Tokens, result.Windows, pass.Forward.Routing);
    }

    /// <summary>-log softmax(logits)[target], in double so that 59k terms sum without drift (llama.cpp's logits, which
    /// the quant report scores over the same windows).</summary>
    internal static double NegativeLogLikelihood(float[] logits, int target)
    {
        double max = logits.Max();
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum) - logits[target];
    }
}
