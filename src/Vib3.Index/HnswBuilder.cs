namespace Vib3.Index;

/// <summary>
/// Builds an <see cref="HnswGraph"/> by inserting the vectors one at a time (Malkov &amp; Yashunin, "Efficient and
/// robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs", 2016/2018).
/// </summary>
/// <remarks>
/// Neighbour selection is the paper's heuristic without "keepPrunedConnections": a candidate is kept only if it is
/// closer to the base node than to every neighbour already kept, and discarded candidates are not used to fill the list
/// up to M. Filling up would give nodes in dense clusters more links that all point the same way; leaving slots empty
/// keeps the graph sparse (fewer distance computations per hop) and the links that remain span directions, which is
/// what keeps clustered data connected. It is also what hnswlib does, so distance counts compare like for like.
/// </remarks>
internal sealed class HnswBuilder
{
    private readonly HnswGraph _graph;
    private readonly HnswOptions _options;
    private readonly object _entryLock = new(); // guards EntryPoint/MaxLevel only
    private long _distances;

    private HnswBuilder(HnswGraph graph, HnswOptions options)
    {
        _graph = graph;
        _options = options;
    }

    /// <param name="vectors">[count, dimensions] row-major; copied (and normalised under Cosine).</param>
    public static HnswGraph Build(ReadOnlySpan<float> vectors, int dimensions, VectorMetric metric, HnswOptions options, out long distances)
    {
        options.Validate();
        if (dimensions <= 0) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "dimensions must be positive");
        if (vectors.Length % dimensions != 0)
            throw new ArgumentException($"{vectors.Length} values are not a whole number of {dimensions}-dimensional vectors", nameof(vectors));
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown metric");
        var count = vectors.Length / dimensions;
        var m = options.M;

        var copy = GC.AllocateUninitializedArray<float>(vectors.Length, pinned: true);
        vectors.CopyTo(copy);
        if (metric == VectorMetric.Cosine)
            for (var i = 0; i < count; i++) Distances.Normalise(copy.AsSpan(i * dimensions, dimensions));

        // Levels are drawn up front, in id order, from the seed: the layer structure is then the same whatever the
        // thread count, and a parallel build differs from a sequential one only in who links to whom.
        var levels = new int[count];
        var upper = new int[]?[count];
        var random = new SplitMix64(options.Seed);
        var mL = 1 / Math.Log(m);
        for (var i = 0; i < count; i++)
        {
            // U in (0, 1]: never 0, so −ln U is finite; the cap only guards the file format's bound (reaching it
            // needs M^MaxLevel nodes).
            var u = ((random.Next() >> 11) + 1) * (1.0 / (1UL << 53));
            levels[i] = (int)Math.Min(Math.Floor(-Math.Log(u) * mL), HnswFormat.MaxLevel);
            if (levels[i] > 0) upper[i] = new int[levels[i] * (1 + m)];
        }
        var graph = new HnswGraph(metric, dimensions, count, m, copy, levels, new int[count * (1 + 2 * m)], upper);
        var builder = new HnswBuilder(graph, options);
        if (count > 0) builder.Build();
        distances = builder._distances;
        return graph;
    }

    private void Build()
    {
        var graph = _graph;
        // The first node is the whole graph: it becomes the entry point with nothing to link.
        graph.EntryPoint = 0;
        graph.MaxLevel = graph.Levels[0];
        var threads = Math.Min(_options.Threads, Math.Max(1, graph.Count - 1));
        if (threads == 1)
        {
            var scratch = NewScratch();
            for (var id = 1; id < graph.Count; id++) Insert(id, scratch, parallel: false);
            _distances += scratch.Distances;
            return;
        }
        graph.Locks = new object[graph.Count];
        for (var i = 0; i < graph.Count; i++) graph.Locks[i] = new object();
        var next = 0; // ids 1.. are handed out in order; which thread takes which depends on timing
        var workers = new Thread[threads];
        Exception? failure = null;
        for (var t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                var scratch = NewScratch();
                try
                {
                    int id;
                    while ((id = Interlocked.Increment(ref next)) < graph.Count && Volatile.Read(ref failure) is null)
                        Insert(id, scratch, parallel: true);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
                Interlocked.Add(ref _distances, scratch.Distances);
            }) { IsBackground = true, Name = $"hnsw-build-{t}" };
            workers[t].Start();
        }
        foreach (var w in workers) w.Join();
        if (failure is not null) throw new AggregateException("HNSW build failed", failure);
        graph.Locks = null; // built: immutable from here on, searches read without locks
    }

    private SearchScratch NewScratch() => new(_graph.Count, _graph.Dimensions) { Links = new int[1 + 2 * _graph.M] };

    private void Insert(int id, SearchScratch scratch, bool parallel)
    {
        var graph = _graph;
        var level = graph.Levels[id];
        int entry, maxLevel;
        var holding = false;
        if (parallel)
        {
            Monitor.Enter(_entryLock);
            entry = graph.EntryPoint;
            maxLevel = graph.MaxLevel;
            // A node that will become the new top keeps the lock until it is linked, so no other node can raise the
            // entry point meanwhile (rare: about one node in M^maxLevel).
            holding = level > maxLevel;
            if (!holding) Monitor.Exit(_entryLock);
        }
        else
        {
            entry = graph.EntryPoint;
            maxLevel = graph.MaxLevel;
        }
        try
        {
            var query = graph.Vector(id);
            var score = graph.Score(query, entry);
            scratch.Distances++;
            for (var layer = maxLevel; layer > level; layer--) entry = graph.Greedy(query, entry, ref score, layer, scratch);

            // W, the ef-best found on one layer, seeds the next layer down (the paper's ep ← W): their scores are
            // already known, so the lower search starts from a full list without recomputing any.
            scratch.EnsureCapacity(_options.EfConstruction + 1);
            var seeds = 1;
            scratch.Ids[0] = entry;
            scratch.Scores[0] = score;
            for (var layer = Math.Min(level, maxLevel); layer >= 0; layer--)
            {
                scratch.BeginVisit();
                scratch.Results.Clear();
                scratch.Candidates.Clear();
                for (var i = 0; i < seeds; i++)
                {
                    scratch.TryVisit(scratch.Ids[i]);
                    scratch.Results.Push(scratch.Scores[i], scratch.Ids[i]);
                    scratch.Candidates.Push(-scratch.Scores[i], scratch.Ids[i]);
                }
                // The node itself is never its own neighbour (it is not linked yet, but mark it in case of a self-loop).
                scratch.TryVisit(id);
                graph.Expand(query, layer, _options.EfConstruction, scratch);
                seeds = HnswGraph.DrainBestFirst(scratch);

                var kept = SelectNeighbours(scratch.Ids, scratch.Scores, seeds, graph.M, scratch.Kept, scratch);
                var list = graph.List(id, layer, out var offset);
                if (parallel)
                    lock (graph.Locks![id]) WriteList(list, offset, scratch.Kept, kept);
                else
                    WriteList(list, offset, scratch.Kept, kept);
                // Link touches neither Kept nor Ids/Scores (the next layer's seeds).
                for (var i = 0; i < kept; i++) Link(scratch.Kept[i], id, layer, scratch, parallel);
            }
            if (level > maxLevel)
            {
                graph.EntryPoint = id;
                graph.MaxLevel = level;
            }
        }
        finally
        {
            if (holding) Monitor.Exit(_entryLock);
        }
    }

    private static void WriteList(int[] list, int offset, int[] ids, int n)
    {
        list[offset] = n;
        ids.AsSpan(0, n).CopyTo(list.AsSpan(offset + 1));
    }

    /// <summary>Adds the back link <paramref name="node"/> → <paramref name="added"/>; a full list is re-selected from
    /// its links plus the new one with the same heuristic, against <paramref name="node"/>.</summary>
    private void Link(int node, int added, int layer, SearchScratch scratch, bool parallel)
    {
        var graph = _graph;
        var capacity = layer == 0 ? 2 * graph.M : graph.M;
        var list = graph.List(node, layer, out var offset);
        if (parallel) Monitor.Enter(graph.Locks![node]);
        try
        {
            var n = list[offset];
            if (n < capacity)
            {
                list[offset + 1 + n] = added;
                list[offset] = n + 1;
                return;
            }
            // Full: score all capacity + 1 candidates against the node, best first, and keep what the heuristic keeps.
            var buffer = new Span<int>(list, offset + 1, n);
            var baseVector = graph.Vector(node);
            Span<int> ids = stackalloc int[n + 1];
            Span<float> keys = stackalloc float[n + 1];
            buffer.CopyTo(ids);
            ids[n] = added;
            for (var i = 0; i <= n; i++) keys[i] = -graph.Score(baseVector, ids[i]); // negated: ascending sort = best first
            scratch.Distances += n + 1;
            keys.Sort(ids);
            var kept = 0;
            for (var i = 0; i <= n && kept < capacity; i++)
            {
                if (!Dominated(ids[i], -keys[i], list.AsSpan(offset + 1, kept), scratch)) list[offset + 1 + kept++] = ids[i];
            }
            list[offset] = kept;
        }
        finally
        {
            if (parallel) Monitor.Exit(graph.Locks![node]);
        }
    }

    /// <summary>The heuristic over <paramref name="n"/> candidates sorted best first ([n] ids and their scores against
    /// the base node): writes up to <paramref name="limit"/> kept ids into <paramref name="kept"/>, returns how many.</summary>
    private int SelectNeighbours(int[] ids, float[] scores, int n, int limit, int[] kept, SearchScratch scratch)
    {
        var count = 0;
        for (var i = 0; i < n && count < limit; i++)
            if (!Dominated(ids[i], scores[i], kept.AsSpan(0, count), scratch)) kept[count++] = ids[i];
        return count;
    }

    /// <summary>True if <paramref name="candidate"/> is closer to one of <paramref name="kept"/> than to the base node
    /// (its score against the base is <paramref name="baseScore"/>): that neighbour already covers its direction.</summary>
    private bool Dominated(int candidate, float baseScore, ReadOnlySpan<int> kept, SearchScratch scratch)
    {
        var vector = _graph.Vector(candidate);
        foreach (var other in kept)
        {
            scratch.Distances++;
            if (_graph.Score(vector, other) > baseScore) return true;
        }
        return false;
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a fixed, documented generator, so a seed gives the same levels on
    /// every runtime version (System.Random's seeded sequence is an implementation detail).</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E9B5UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
