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
    /// <param name="maxWindows">Evaluate only the first windows (all by default).</param>
    public static async Task<HeldOutResult> RunAsync(SequencePass pass, HeldOutText text, int window, CancellationToken ct,
        int maxWindows = int.MaxValue)
    {
        pass.Forward.Routing.Reset();
        double total = 0;
        long tokens = 0;
        var windows = 0;
        foreach (var (inputs, targets) in text.Windows(window).Take(maxWindows))
        {
            pass.Cache.Clear(); // every window starts from an empty context, as in training's evaluation
            var logits = await pass.LogitsAsync(inputs, allPositions: true, ct);
            for (var i = 0; i < logits.Length; i++) total += NegativeLogLikelihood(logits[i], targets[i]);
            tokens += logits.Length;
            if (++windows % 40 == 0) Console.Error.WriteLine($"  {windows} windows, loss so far {total / tokens:0.0000}");
        }
        return new HeldOutResult(total / tokens, tokens, windows, pass.Forward.Routing);
    }

    /// <summary>-log softmax(logits)[target], in double so that 59k terms sum without drift.</summary>
    internal static double NegativeLogLikelihood(float[] logits, int target)
    {
        double max = logits.Max();
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum) - logits[target];
    }
}
