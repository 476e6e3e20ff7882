using LLama;
using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>llama.cpp's own quantizer (llama_model_quantize through LLamaSharp, no importance matrix): makes the
/// quantised GGUF files vib3 is compared against, with llama.cpp's per-tensor type rules.</summary>
public static class LlamaCppQuantizer
{
    /// <summary>Writes <paramref name="output"/>, <paramref name="input"/> quantised to <paramref name="ftype"/>;
    /// throws with llama.cpp's error lines when it refuses.</summary>
    /// <param name="quantizeOutput">Quantise output.weight too, as llama-quantize does by default (LLamaSharp's default
    /// keeps it in the source type).</param>
    public static void Quantize(string input, string output, LLamaFtype ftype, int threads = 2, bool quantizeOutput = false)
    {
        if (!File.Exists(input)) throw new FileNotFoundException("no GGUF file", input);
        LlamaCppLog.EnsureInstalled();
        LlamaCppLog.TakeErrors();
        if (!LLamaQuantizer.Quantize(input, output, ftype, threads, quantizeOutputTensor: quantizeOutput))
            throw new InvalidOperationException($"llama.cpp could not quantise '{input}' to {ftype}: {LlamaCppLog.TakeErrors()}");
    }
}
