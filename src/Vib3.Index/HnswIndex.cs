namespace Vib3.Index;

/// <summary>
/// Approximate top-k search over a Hierarchical Navigable Small World graph: a search descends greedily from the entry
/// point through the sparse upper layers, then runs a best-first search of breadth ef on layer 0, which holds every
/// vector. Immutable once built or loaded; any number of threads may search at once.
/// </summary>
/// <remarks>
/// <para>Metrics. L2 scores −|a − b|²; Cosine normalises vectors at build time and queries at search time, then scores
/// the dot product; InnerProduct scores the raw dot product (maximum inner product search).</para>
/// <para>Inner product is not a metric: a vector is not its own nearest neighbour (a longer vector in the same
/// direction scores higher), and the triangle inequality that makes greedy routing and the neighbour-selection heuristic
/// sound does not hold. The graph is still built and searched the same way, and works well when norms are similar
/// (router weights, normalised embeddings); with widely varying norms, long vectors become hubs, recall at a given ef
/// is lower than for L2, and a higher ef is the remedy. (The exact fix, a reduction to L2 by appending
/// √(max‖x‖² − ‖x‖²), is not applied: it changes scores, and IVectorIndex promises scores in the caller's metric.)</para>
/// <para>Builds with <see cref="HnswOptions.Threads"/> = 1 are deterministic: the same vectors and options give the
/// same graph and byte-identical <see cref="Save"/> output (on the same CPU: SIMD width changes float rounding). With
/// more threads the insert order interleaves by timing, so the graph differs from run to run; recall does not,
/// beyond noise.</para>
/// </remarks>
public sealed class HnswIndex : IVectorIndex
{
    /// <summary>Search breadth used when a search passes ef = 0.</summary>
    public const int DefaultEf = 64;

    private readonly HnswGraph _graph;
    private readonly VisitedPool _pool;
    private long _distanceComputations;

    /// <summary>Builds the graph.</summary>
    /// <param name="vectors">[count, dimensions] row-major; copied (normalised under Cosine).</param>
    public HnswIndex(ReadOnlySpan<float> vectors, int dimensions, VectorMetric metric, HnswOptions? options = null)
        : this(HnswBuilder.Build(vectors, dimensions, metric, options ?? new HnswOptions(), out var distances))
    {
        BuildDistanceComputations = distances;
    }

    private HnswIndex(HnswGraph graph)
    {
        _graph = graph;
        _pool = new VisitedPool(graph.Count, graph.Dimensions);
    }

    public int Count => _graph.Count;

    public int Dimensions => _graph.Dimensions;

    public VectorMetric Metric => _graph.Metric;

    /// <summary>Links per node on upper layers (2·M on layer 0).</summary>
    public int M => _graph.M;

    /// <summary>Top layer of the graph (−1 when empty).</summary>
    public int MaxLevel => _graph.MaxLevel;

    /// <summary>The node every search starts from (−1 when empty).</summary>
    public int EntryPoint => _graph.EntryPoint;

    /// <summary>Distance computations the build made (0 for a loaded index).</summary>
    public long BuildDistanceComputations { get; }

    /// <summary>Distance computations by all searches so far (upper-layer descent included), summed across threads.</summary>
    public long DistanceComputations => Interlocked.Read(ref _distanceComputations);

    public void ResetDistanceComputations() => Interlocked.Exchange(ref _distanceComputations, 0);

    public int Search(ReadOnlySpan<float> query, int k, Span<Neighbor> results, int ef = 0) =>
        Search(query, k, results, ef, out _);

    /// <summary>As <see cref="Search(ReadOnlySpan{float}, int, Span{Neighbor}, int)"/>, also reporting the distance
    /// computations this search made.</summary>
    public int Search(ReadOnlySpan<float> query, int k, Span<Neighbor> results, int ef, out int distanceComputations)
    {
        distanceComputations = 0;
        if (query.Length != Dimensions)
            throw new ArgumentException($"the query has {query.Length} dimensions, the index {Dimensions}", nameof(query));
        var n = Math.Min(Math.Min(k, Count), results.Length);
        if (n <= 0) return 0;
        ef = Math.Max(ef <= 0 ? DefaultEf : ef, n);

        var graph = _graph;
        var scratch = _pool.Rent();
        try
        {
            scratch.Distances = 0;
            var target = query;
            if (Metric == VectorMetric.Cosine)
            {
                query.CopyTo(scratch.Query);
                Distances.Normalise(scratch.Query);
                target = scratch.Query;
            }
            var entry = graph.EntryPoint;
            var score = graph.Score(target, entry);
            scratch.Distances = 1;
            for (var layer = graph.MaxLevel; layer > 0; layer--) entry = graph.Greedy(target, entry, ref score, layer, scratch);

            scratch.BeginVisit();
            scratch.Results.Clear();
            scratch.Candidates.Clear();
            scratch.TryVisit(entry);
            scratch.Results.Push(score, entry);
            scratch.Candidates.Push(-score, entry);
            graph.Expand(target, 0, ef, scratch);
            var found = HnswGraph.DrainBestFirst(scratch);
            n = Math.Min(n, found);
            for (var i = 0; i < n; i++) results[i] = new Neighbor(scratch.Ids[i], scratch.Scores[i]);
            distanceComputations = (int)Math.Min(int.MaxValue, scratch.Distances);
            Interlocked.Add(ref _distanceComputations, scratch.Distances);
            return n;
        }
        finally
        {
            _pool.Return(scratch);
        }
    }

    /// <summary>Writes the index in the format documented in HnswFormat.cs.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        HnswFormat.Write(_graph, stream);
    }

    /// <summary>Reads an index written by <see cref="Save"/>. Corrupt or truncated input throws a
    /// <see cref="Vib3.Core.Vib3Exception"/> (DataCorrupted) naming <paramref name="sourceName"/> and the bad field.</summary>
    /// <summary>The header of the index file at <paramref name="path"/> (40 bytes read; the body is not checked): what a
    /// planner needs to cost a search without loading the graph.</summary>
    public static HnswHeader ReadHeader(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[HnswFormat.HeaderSize];
        if (file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            throw new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.DataCorrupted, $"HNSW index {path}: header is truncated");
        return HnswFormat.ParseHeader(header, path);
    }

    public static HnswIndex Load(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new HnswIndex(HnswFormat.Read(stream, sourceName));
    }
}
