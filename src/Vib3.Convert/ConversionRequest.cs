using Vib3.Core;

namespace Vib3.Convert;

/// <param name="SourcePath">A Hugging Face folder (config.json + *.safetensors) or a .gguf file.</param>
/// <param name="DType">Element type for 2-D weights; null keeps each tensor's source type (bit-exact).</param>
/// <param name="PageRows">R, neuron rows per expert page; null picks R so pages are 0.5–4 MiB and fill the log's pages.</param>
public sealed record ConversionRequest(string SourcePath, string Name, DType? DType = null, int? PageRows = null);

/// <summary>Progress in bytes of pages written (phase "write") or verified (phase "verify").</summary>
public readonly record struct ConversionProgress(string Phase, long Done, long Total);
