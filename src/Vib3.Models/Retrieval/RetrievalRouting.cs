namespace Vib3.Models.Retrieval;

/// <summary>How a sequence's tokens pick expert pages when they do not use the router's top-k: the k bundle pages of
/// each MoE layer whose keys score highest against the token's FFN input (ef: the HNSW search breadth, 0 = default).
/// Router-aware variants (both off by default): <paramref name="Candidates"/> &gt; 0 keeps only the pages of the
/// router's <paramref name="Candidates"/> most probable experts; <paramref name="Prior"/> &gt; 0 ranks pages by
/// key score + Prior · ln p_router(expert). Either makes the layer's search exhaustive (every page scored, then
/// re-ranked), which is what the exact scan does anyway.</summary>
public sealed record RetrievalRouting(int K, int Ef = 0, int Candidates = 0, float Prior = 0)
{
    /// <summary>Whether the router's probabilities re-rank the key scores.</summary>
    public bool RouterAware => Candidates > 0 || Prior > 0;
}
