namespace Vib3.Index;

/// <summary>
/// Brute force: every vector scored against the query (one matrix-vector product), the top k kept. The reference
/// every approximate index is measured against (recall), and a legitimate plan in its own right: one MoE layer has a
/// few hundred to a few thousand page keys, which one SIMD pass scores in microseconds.
/// </summary>
public sealed class ExactIndex : IVectorIndex
{
    private readonly float[] _vectors; // [Count, Dimensions], unit length under Cosine

    /// <param name="vectors">[count, dimensions], row-major; copied.</param>
    public ExactIndex(ReadOnlySpan<float> vectors, int dimensions, VectorMetric metric)
    {
        if (dimensions <= 0) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "dimensions must be positive");
        if (vectors.Length % dimensions != 0)
            throw new ArgumentException($"{vectors.Length} values are not a whole number of {dimensions}-dimensional vectors", nameof(vectors));
        Dimensions = dimensions;
        Metric = metric;
        Count = vectors.Length / dimensions;
        _vectors = vectors.ToArray();
        if (metric == VectorMetric.Cosine)
            for (var i = 0; i < Count; i++) Normalise(_vectors.AsSpan(i * dimensions, dimensions));
    }

    public int Count { get; }

    public int Dimensions { get; }

    public VectorMetric Metric { get; }

    public int Search(ReadOnlySpan<float> query, int k, Span<Neighbor> results, int ef = 0)
    {
        if (query.Length != Dimensions)
            throw new ArgumentException($"the query has {query.Length} dimensions, the index {Dimensions}", nameof(query));
        var n = Math.Min(Math.Min(k, Count), results.Length);
        if (n <= 0) return 0;
        var normalised = Metric == VectorMetric.Cosine ? query.ToArray() : null;
        if (normalised is not null) Normalise(normalised);
        var target = normalised ?? query;
        var found = 0;
        for (var i = 0; i < Count; i++)
        {
            var score = Score(target, _vectors.AsSpan(i * Dimensions, Dimensions));
            if (found == n && score <= results[n - 1].Score) continue;
            // Insertion into the sorted prefix: k is small next to Count.
            var at = found < n ? found++ : n - 1;
            while (at > 0 && results[at - 1].Score < score)
            {
                results[at] = results[at - 1];
                at--;
            }
            results[at] = new Neighbor(i, score);
        }
        return found;
    }

    // Shared with HnswIndex (Distances), so recall compares bit-identical scores.
    private float Score(ReadOnlySpan<float> query, ReadOnlySpan<float> vector) => Distances.Score(Metric, query, vector);

    internal static void Normalise(Span<float> v) => Distances.Normalise(v);
}
