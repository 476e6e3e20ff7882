using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>llama.cpp's own quantizer (llama_model_quantize, no importance matrix): makes the quantised GGUF files vib3
/// is compared against, with llama.cpp's per-tensor type rules. Called directly rather than through LLamaSharp's
/// LLamaQuantizer, whose list of valid file types predates BF16 and the ternary types that llama.cpp itself writes.</summary>
public static class LlamaCppQuantizer
{
    /// <summary>Writes <paramref name="output"/>, <paramref name="input"/> quantised to <paramref name="ftype"/>;
    /// throws with llama.cpp's error lines when it refuses.</summary>
    /// <param name="quantizeOutput">Quantise output.weight too, as llama-quantize does by default (these tests' files
    /// keep it in the source type unless asked).</param>
    public static void Quantize(string input, string output, LLamaFtype ftype, int threads = 2, bool quantizeOutput = false)
    {
        if (!File.Exists(input)) throw new FileNotFoundException("no GGUF file", input);
        LlamaCppLog.EnsureInstalled();
        LlamaCppLog.TakeErrors();
        var parameters = LLamaModelQuantizeParams.Default();
        parameters.ftype = ftype;
        parameters.nthread = threads;
        parameters.quantize_output_tensor = quantizeOutput;
        if (NativeApi.llama_model_quantize(input, output, ref parameters) != 0)
            throw new InvalidOperationException($"llama.cpp could not quantise '{input}' to {ftype}: {LlamaCppLog.TakeErrors()}");
    }
}
