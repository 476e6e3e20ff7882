namespace Vib3.Convert.Descriptors;

/// <summary>One model family as catalog/families/&lt;family&gt;.json describes it (see catalog/README.md).</summary>
public sealed class FamilyDescriptor
{
    public required string Family { get; init; }
    public string Description { get; init; } = "";
    public required HfSide Hf { get; init; }
    public required GgufSide Gguf { get; init; }
    /// <summary>Hyper-parameter name (as in HyperParameters, camelCase) → where to find it.</summary>
    public required Dictionary<string, HyperSource> Hyper { get; init; }
    public required List<TensorPattern> Tensors { get; init; }
    public required ExpertPatterns Experts { get; init; }
    /// <summary>Source tensors the family may carry that vib3 does not need (e.g. HF's cached rotary inv_freq).
    /// Any other tensor the descriptor does not name fails the conversion: ignoring it could change the model.</summary>
    public List<string> Ignore { get; init; } = [];
    /// <summary>Prefix (with {l}) of a layer's HF tensors: layers from num_hidden_layers on are multi-token-prediction
    /// layers (hyper-parameter skippedMtpLayers of them), which vib3 does not convert.</summary>
    public string? MtpLayerPrefix { get; init; }

    public sealed class HfSide
    {
        public required List<string> Architectures { get; init; }
        public required string RopeStyle { get; init; }
    }

    public sealed class GgufSide
    {
        public required string Architecture { get; init; }
        public required string RopeStyle { get; init; }
    }

    public sealed class HyperSource
    {
        public List<string> Hf { get; init; } = [];
        public List<string> Gguf { get; init; } = [];
        /// <summary>Used when no HF key is present: an expression over other hyper-parameters, a literal,
        /// true/false, or "none" (may stay unset). Absent: the value is required.</summary>
        public string? HfDefault { get; init; }
        /// <summary>As HfDefault, for GGUF metadata (llama.cpp's own defaults where it has them).</summary>
        public string? GgufDefault { get; init; }
        /// <summary>When set, the HF keys hold text mapped to numbers by this table (scoring_func "sigmoid" → 2);
        /// text not in it is refused as unsupported.</summary>
        public Dictionary<string, double>? HfValues { get; init; }
        /// <summary>As HfValues, for GGUF metadata strings (rope.scaling.type).</summary>
        public Dictionary<string, double>? GgufValues { get; init; }
    }

    public sealed class TensorPattern
    {
        /// <summary>Canonical name; contains {l} when the tensor repeats per layer.</summary>
        public required string Name { get; init; }
        public required string Role { get; init; }
        /// <summary>Row-major shape as expressions over hyper-parameters.</summary>
        public required List<string> Shape { get; init; }
        public required string Hf { get; init; }
        public required string Gguf { get; init; }
        public bool Optional { get; init; }
        /// <summary>For an output projection that may be tied to the embedding: the tensor used when this one is absent
        /// (allowed in GGUF always, in HF only when config.json says tie_word_embeddings).</summary>
        public string? TiedTo { get; init; }
        /// <summary>Per-layer tensors: "dense" (only the leading dense layers), "moe" (only routed layers) or null (all).</summary>
        public string? Layers { get; init; }
        /// <summary>Present only when a hyper-parameter is set or not: "qLoraRank" (non-zero) or "!qLoraRank" (zero).</summary>
        public string? When { get; init; }
        /// <summary>How stored rows derive from the HF tensor when they are not a plain copy (see <see cref="Planning.TensorViews"/>).</summary>
        public string? HfView { get; init; }
        /// <summary>An older GGUF layout of the same weights, used when <see cref="Gguf"/> is absent, and its view.</summary>
        public string? GgufAlternative { get; init; }
        public string? GgufAlternativeView { get; init; }

        public bool PerLayer => Name.Contains("{l}", StringComparison.Ordinal);
    }

    public sealed class ExpertPatterns
    {
        public required ExpertPattern Gate { get; init; }
        public required ExpertPattern Up { get; init; }
        public required ExpertPattern Down { get; init; }
    }

    /// <summary>HF: one 2-D tensor per expert ({l}, {e}); GGUF: one 3-D tensor per layer ({l}) stacking all experts,
    /// or, in GGUF files made before llama.cpp stacked experts, one 2-D tensor per expert.</summary>
    public sealed class ExpertPattern
    {
        public required string Hf { get; init; }
        public required string Gguf { get; init; }
        public string? GgufPerExpert { get; init; }
    }
}
