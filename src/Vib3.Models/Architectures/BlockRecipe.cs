namespace Vib3.Models.Architectures;

/// <summary>Where a family's q/k normalisation sits.</summary>
public enum QkNorm
{
    None,
    /// <summary>RMSNorm over each head of q and k, weights [headDim] (Qwen3-MoE).</summary>
    PerHead,
    /// <summary>RMSNorm over the whole q and k projections before splitting into heads (OLMoE).</summary>
    Full,
}

/// <summary>What distinguishes one MoE transformer block from another. Families only choose among shared
/// building blocks; the forward pass reads the recipe, never the family name.</summary>
/// <param name="AttentionBias">q/k/v projections carry biases (Qwen2-MoE).</param>
/// <param name="SharedExpert">A sigmoid-gated shared expert is added to the routed ones (Qwen2-MoE).</param>
/// <param name="RenormalizeTopK">The k routing weights are rescaled to sum to 1 after top-k of the softmax.</param>
/// <param name="InterleavedRope">RoPE rotates consecutive pairs (llama GGUF, whose Q/K rows are permuted);
/// otherwise it rotates the two halves of each head (HF layout, "neox").</param>
/// <param name="LatentAttention">Multi-head latent attention over a cache of compressed latents (deepseek2).</param>
/// <param name="GroupedRouting">Experts chosen by <see cref="Kernels.GroupedRouter"/> (sigmoid or softmax scores, a
/// selection-only bias, expert groups, scaled weights: deepseek2) rather than softmax top-k.</param>
public sealed record BlockRecipe(QkNorm QkNorm, bool AttentionBias, bool SharedExpert, bool RenormalizeTopK, bool InterleavedRope,
    bool LatentAttention = false, bool GroupedRouting = false);
