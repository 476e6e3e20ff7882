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
        var written = Ternary(ftype)
            ? QuantizeNative(input, output, ftype, threads, quantizeOutput)
            : LLamaQuantizer.Quantize(input, output, ftype, threads, quantizeOutputTensor: quantizeOutput);
        if (!written)
            throw new InvalidOperationException($"llama.cpp could not quantise '{input}' to {ftype}: {LlamaCppLog.TakeErrors()}");
    }

    /// <summary>LLamaSharp's LLamaQuantizer refuses the ternary file types before llama.cpp sees them (its list of valid
    /// types predates them), though llama.cpp writes them; those go to llama_model_quantize directly.</summary>
    private static bool Ternary(LLamaFtype ftype) =>
        ftype is LLamaFtype.LLAMA_FTYPE_MOSTLY_TQ1_0 or LLamaFtype.LLAMA_FTYPE_MOSTLY_TQ2_0;

    private static bool QuantizeNative(string input, string output, LLamaFtype ftype, int threads, bool quantizeOutput)
    {
        var parameters = LLamaModelQuantizeParams.Default();
        parameters.ftype = ftype;
        parameters.nthread = threads;
        parameters.quantize_output_tensor = quantizeOutput;
        return NativeApi.llama_model_quantize(input, output, ref parameters) == 0;
    }
}
