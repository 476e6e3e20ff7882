using Vib3.Core;

namespace Vib3.Synth;

/// <summary>The benchmarks' model shapes (vib3-bench, vib3-device-check): the forward-pass issue's Mixtral (d 1024,
/// expert hidden 2816, 16/4 heads, 8 experts top-2, vocab 32000; ~2.5 GB at f32 with 8 layers) and a Kimi-K2-shaped
/// deepseek2.</summary>
public static class BenchShapes
{
    public static SyntheticModelSpec Mixtral(DType dtype, int layers) => new()
    {
        Family = ModelFamily.Mixtral, Layers = layers, Dim = 1024, ExpertHidden = 2816, Heads = 16, KvHeads = 4,
        Experts = 8, TopK = 2, Vocab = 32000, Context = 2048, Seed = 1, DType = dtype,
    };

    /// <summary>Kimi K2's routing and attention layout — 384 experts top-8 plus one shared, the first layer dense,
    /// 64 heads of MLA with q rank 1536, kv rank 512, nope 128 + rope 64, v 128, sigmoid scores, weights ×2.827, YaRN ×32
    /// from 4096 — with the widths scaled down (hidden 1024 for 7168, expert hidden 256 for 2048, dense FFN 2560 for
    /// 18432, vocab 32000 for 163840) so that 40 layers of q8_0 make ~14.6 GB. Routing is spread over the experts as in a
    /// trained model (the real selection bias exists to balance the load): no random selection bias, which would outweigh
    /// random router logits, and embeddings ×100, without which random attention outputs (after MLA's normalised latents)
    /// swamp each token's own direction and every token picks the same few experts (measured: one expert in 50 of 62
    /// tokens; with these settings at most 6 of 62).</summary>
    public static SyntheticModelSpec KimiShaped(DType dtype, int layers) => new()
    {
        Family = ModelFamily.Deepseek2, Layers = layers, Dim = 1024, Heads = 64, ExpertHidden = 256, Experts = 384, TopK = 8,
        SharedExperts = 1, LeadingDenseLayers = 1, DenseHidden = 2560, ScoreBias = false, EmbeddingScale = 100, QLoraRank = 1536, KvLoraRank = 512,
        QkNopeHeadDim = 128, QkRopeHeadDim = 64, VHeadDim = 128, RoutedScale = 2.827, RopeTheta = 50_000,
        YarnFactor = 32, YarnOriginalContext = 4096, MscaleAllDim = 1, Vocab = 32000, Context = 131_072, Seed = 1, DType = dtype,
    };

    /// <summary>A shape by its benchmark name: mixtral or kimi.</summary>
    public static SyntheticModelSpec ForShape(string shape, DType dtype, int layers) => shape switch
    {
        "mixtral" => Mixtral(dtype, layers),
        "kimi" => KimiShaped(dtype, layers),
        _ => throw new ArgumentException($"unknown model shape '{shape}' (mixtral or kimi)"),
    };
}
