using Vib3.Core;

namespace Vib3.Convert;

/// <param name="SourcePath">A Hugging Face folder (config.json + *.safetensors) or a .gguf file.</param>
/// <param name="DType">Element type for 2-D weights; null keeps each tensor's source type (bit-exact).</param>
/// <param name="PageRows">R, neuron rows per expert page; null picks R so expert pages are just under 2 MiB (a small expert is one page).</param>
/// <param name="RamBudgetBytes">RAM the conversion's store may hold while verifying; null: what verification needs.</param>
/// <param name="TokenizerFallback">"gpt2": a pre-tokenizer vib3 cannot express is split as GPT-2 does (and recorded in
/// the manifest) instead of refused; null refuses it.</param>
/// <param name="Mix">A llama.cpp mix (--dtype q4_k_m …) choosing each tensor's type; instead of <paramref name="DType"/>.</param>
/// <param name="ExpertDType">--expert-dtype: the routed experts' type, over <paramref name="DType"/> or the mix.</param>
/// <param name="DenseDType">--dense-dtype: every other 2-D weight's type, over <paramref name="DType"/> or the mix.</param>
/// <param name="ExpertMix">--expert-dtype q4_k_m …: the routed experts' types by a llama.cpp mix's rules, per layer.</param>
/// <param name="NeuronOrder">The order to store the experts' neurons in (--page-layout coact, after calibration); null: as trained.</param>
public sealed record ConversionRequest(
    string SourcePath, string Name, DType? DType = null, int? PageRows = null, long? RamBudgetBytes = null,
    string? TokenizerFallback = null, Planning.LlamaCppMix? Mix = null, DType? ExpertDType = null, DType? DenseDType = null,
    Planning.LlamaCppMix? ExpertMix = null, Vib3.Models.Retrieval.NeuronOrder? NeuronOrder = null)
{
    public Planning.StorageTypes StorageTypes => new(DType, Mix, ExpertDType, DenseDType, ExpertMix);
}

/// <summary>Progress in bytes of pages written (phase "write") or verified (phase "verify").</summary>
public readonly record struct ConversionProgress(string Phase, long Done, long Total);
