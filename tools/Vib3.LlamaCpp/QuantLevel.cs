using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>A quantisation level as `vib3 convert --dtype` and llama-quantize spell it, and the llama.cpp file type
/// that makes the GGUF both engines run in comparisons (null: the f32 file itself, not re-quantised).</summary>
public sealed record QuantLevel(string Name, LLamaFtype? Ftype)
{
    /// <summary>Every level llama.cpp's quantizer makes without an importance matrix, from widest to narrowest.</summary>
    public static IReadOnlyList<QuantLevel> All { get; } =
    [
        new("f32", null),
        new("f16", LLamaFtype.MOSTLY_F16),
        new("bf16", LLamaFtype.MOSTLY_BF16),
        new("q8_0", LLamaFtype.MOSTLY_Q8_0),
        new("q6_k", LLamaFtype.MOSTLY_Q6_K),
        new("q5_k_m", LLamaFtype.MOSTLY_Q5_K_M),
        new("q5_1", LLamaFtype.MOSTLY_Q5_1),
        new("q5_0", LLamaFtype.MOSTLY_Q5_0),
        new("q4_k_m", LLamaFtype.MOSTLY_Q4_K_M),
        new("q4_k_s", LLamaFtype.MOSTLY_Q4_K_S),
        new("q4_1", LLamaFtype.MOSTLY_Q4_1),
        new("q4_0", LLamaFtype.MOSTLY_Q4_0),
        new("iq4_nl", LLamaFtype.MOSTLY_IQ4_NL),
        new("iq4_xs", LLamaFtype.MOSTLY_IQ4_XS),
        new("q3_k_m", LLamaFtype.MOSTLY_Q3_K_M),
        new("q2_k", LLamaFtype.MOSTLY_Q2_K),
        new("tq2_0", LLamaFtype.LLAMA_FTYPE_MOSTLY_TQ2_0),
        new("tq1_0", LLamaFtype.LLAMA_FTYPE_MOSTLY_TQ1_0),
    ];

    public static QuantLevel Parse(string name) =>
        All.FirstOrDefault(l => l.Name == name.Trim().ToLowerInvariant())
        ?? throw new ArgumentException($"unknown level '{name}' (known: {string.Join(", ", All.Select(l => l.Name))})");
}
