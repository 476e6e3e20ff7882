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
        /// <summary>An expression over other hyper-parameters, a literal, or "none" (may stay unset).</summary>
        public string? Default { get; init; }
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

        public bool PerLayer => Name.Contains("{l}", StringComparison.Ordinal);
    }

    public sealed class ExpertPatterns
    {
        public required ExpertPattern Gate { get; init; }
        public required ExpertPattern Up { get; init; }
        public required ExpertPattern Down { get; init; }
    }

    /// <summary>HF: one 2-D tensor per expert ({l}, {e}); GGUF: one 3-D tensor per layer ({l}) stacking all experts.</summary>
    public sealed class ExpertPattern
    {
        public required string Hf { get; init; }
        public required string Gguf { get; init; }
    }
}
