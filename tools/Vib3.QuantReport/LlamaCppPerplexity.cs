using Vib3.LlamaCpp;
using Vib3.ModelReport;

namespace Vib3.QuantReport;

/// <summary>llama.cpp's held-out loss over the same windows vib3 evaluates (<see cref="HeldOutText.Windows"/>): each
/// window a fresh sequence in one batch, the NLL of every next token from llama.cpp's own logits.</summary>
internal static class LlamaCppPerplexity
{
    public static (double Loss, long Tokens) Run(string gguf, HeldOutText text, int window, int maxWindows, int threads)
    {
        using var model = LlamaCppModel.Load(gguf, threads, contextLength: window + 8);
        double total = 0;
        long tokens = 0;
        foreach (var (inputs, targets) in text.Windows(window).Take(maxWindows))
        {
            var logits = model.Logits(inputs);
            for (var i = 0; i < logits.Length; i++) total += HeldOutEvaluation.NegativeLogLikelihood(logits[i], targets[i]);
            tokens += logits.Length;
        }
        return (total / tokens, tokens);
    }
}
