namespace Vib3.Index;

/// <summary>
/// Top-k search over a fixed set of vectors (ids 0..Count−1, in build order). Implementations are immutable once built
/// and safe to search from many threads at once.
/// </summary>
public interface IVectorIndex
{
    int Count { get; }

    int Dimensions { get; }

    VectorMetric Metric { get; }

    /// <summary>Writes the best min(k, Count) neighbours of <paramref name="query"/> [Dimensions] into
    /// <paramref name="results"/>, best first, and returns how many. <paramref name="ef"/> is the search breadth of
    /// approximate indexes (0: their default; at least k is used); exact ones ignore it.</summary>
    int Search(ReadOnlySpan<float> query, int k, Span<Neighbor> results, int ef = 0);
}
