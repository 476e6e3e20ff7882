namespace Vib3.Index;

/// <summary>How two vectors compare. Every index reports a score where higher means closer, so results of any metric
/// sort the same way.</summary>
public enum VectorMetric
{
    /// <summary>Score = a·b (maximum inner product search: router-like relevance, magnitudes count).</summary>
    InnerProduct,
    /// <summary>Score = a·b / (|a| |b|). Vectors and queries are normalised, then scored as inner products.</summary>
    Cosine,
    /// <summary>Score = −|a − b|² (nearest by Euclidean distance).</summary>
    L2,
}
