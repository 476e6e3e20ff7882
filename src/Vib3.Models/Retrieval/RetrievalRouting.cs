namespace Vib3.Models.Retrieval;

/// <summary>How a sequence's tokens pick expert pages when they do not use the router's top-k: the k bundle pages of
/// each MoE layer whose keys score highest against the token's FFN input (ef: the HNSW search breadth, 0 = default).</summary>
public sealed record RetrievalRouting(int K, int Ef = 0);
