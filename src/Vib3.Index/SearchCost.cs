namespace Vib3.Index;

/// <summary>
/// Index or exact scan: which answers a top-k query over <c>count</c> vectors with fewer distance computations. A scan
/// costs exactly count. A graph search expands about max(ef, k) nodes at layer 0 and scores each one's up to 2M
/// neighbours (fewer once visited: measured 801 per query at ef 64, M 16 on 100k clustered vectors, 1952 on i.i.d.
/// ones, against this estimate's 2048), so max(ef, k) · 2M is a slight over-estimate: the scan wins ties and near-ties,
/// which suits small sets (a MoE layer of a few hundred pages), and the graph takes over in the thousands (a 384-expert
/// layer). The planner and the forward pass both decide through here, so EXPLAIN says what runs.
/// </summary>
public static class SearchCost
{
    /// <summary>Estimated distance computations of one graph search.</summary>
    public static long Graph(int k, int ef, int m) => (long)Math.Max(Math.Max(ef, k), 1) * 2 * m;

    /// <summary>True when a graph built with <paramref name="m"/> should answer the query rather than a scan of
    /// <paramref name="count"/> vectors; <paramref name="ef"/> 0 means <see cref="HnswIndex.DefaultEf"/>.</summary>
    public static bool PreferGraph(int count, int k, int ef, int m) =>
        Graph(k, ef > 0 ? ef : HnswIndex.DefaultEf, m) < count;
}
