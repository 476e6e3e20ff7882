namespace Vib3.Index;

/// <summary>
/// Index or exact scan: which answers a top-k query over <c>count</c> vectors sooner. A scan costs exactly count
/// distance computations, streamed through memory. A graph search expands about max(ef, k) nodes at layer 0 and scores
/// each one's up to 2M neighbours (fewer once visited: measured 801 per query at ef 64, M 16 on 100k clustered
/// vectors, 1952 on i.i.d. ones, against this estimate's 2048), and each of its distance computations costs about twice
/// a scan's (random access into the vectors, the visited set and two heaps: on 2,048 page keys of 128 dims the graph
/// took 2.0–2.3× a scan's time per estimated computation at ef 8–64, vib3-retrieval-study --index-bench). So the graph
/// is chosen only when twice its estimate is below the count: small sets (a MoE layer of a few hundred pages) are
/// scanned, and the graph takes over in the thousands at small ef. The planner and the forward pass both decide through
/// here, so EXPLAIN says what runs.
/// </summary>
public static class SearchCost
{
    /// <summary>Estimated distance computations of one graph search.</summary>
    public static long Graph(int k, int ef, int m) => (long)Math.Max(Math.Max(ef, k), 1) * 2 * m;

    /// <summary>True when a graph built with <paramref name="m"/> should answer the query rather than a scan of
    /// <paramref name="count"/> vectors; <paramref name="ef"/> 0 means <see cref="HnswIndex.DefaultEf"/>.</summary>
    public static bool PreferGraph(int count, int k, int ef, int m) =>
        GraphTimeFactor * Graph(k, ef > 0 ? ef : HnswIndex.DefaultEf, m) < count;

    /// <summary>A graph search's time per distance computation, in scan computations (measured 2.0–2.3).</summary>
    public const int GraphTimeFactor = 2;
}
