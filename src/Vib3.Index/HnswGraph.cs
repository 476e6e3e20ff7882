using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Index;

/// <summary>
/// The HNSW graph's storage and the two layer searches (greedy descent and best-first expansion) that the builder and
/// the index share. Neighbour lists are fixed-size slots in flat arrays (a count, then the ids), so a list is one
/// contiguous read and the whole graph is a handful of arrays that save and load in bulk.
/// </summary>
internal sealed unsafe class HnswGraph
{
    public readonly VectorMetric Metric;
    public readonly int Dimensions;
    public readonly int Count;
    public readonly int M;

    /// <summary>[Count, Dimensions] row-major, unit length under Cosine. Pinned (pinned object heap) so the search can
    /// prefetch by address and read rows without bounds checks.</summary>
    public readonly float[] Vectors;

    /// <summary>[Count] the top layer of each node (0: layer 0 only).</summary>
    public readonly int[] Levels;

    /// <summary>[Count, 1 + 2M] layer-0 lists: slot 0 the number of links, then up to 2M neighbour ids. Layer 0 gets
    /// twice the links of upper layers: it holds every node and carries the final, precise part of every search.</summary>
    public readonly int[] Layer0;

    /// <summary>[Count][Levels[i], 1 + M] lists of layers 1..Levels[i] (layer l at row l − 1); null for level-0 nodes,
    /// which are about (M − 1)/M of them.</summary>
    public readonly int[]?[] Upper;

    /// <summary>Per-node locks while a parallel build is linking; null once built (the graph is then immutable and
    /// searches read it without locks).</summary>
    public object[]? Locks;

    public int EntryPoint = -1;
    public int MaxLevel = -1;

    private readonly float* _vectors;

    public HnswGraph(VectorMetric metric, int dimensions, int count, int m, float[] vectors, int[] levels, int[] layer0, int[]?[] upper)
    {
        Metric = metric;
        Dimensions = dimensions;
        Count = count;
        M = m;
        Vectors = vectors;
        Levels = levels;
        Layer0 = layer0;
        Upper = upper;
        // Vectors comes from GC.AllocateUninitializedArray(pinned: true): the address is stable for its lifetime, and
        // this object keeps it alive.
        _vectors = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(vectors));
    }

    public int Stride0 => 1 + 2 * M;

    public int StrideUpper => 1 + M;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<float> Vector(int id) => new(_vectors + (long)id * Dimensions, Dimensions);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Score(ReadOnlySpan<float> query, int id) => Distances.Score(Metric, query, Vector(id));

    /// <summary>The list of <paramref name="id"/> at <paramref name="layer"/> as its backing array and the offset of its
    /// count slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int[] List(int id, int layer, out int offset)
    {
        if (layer == 0)
        {
            offset = id * Stride0;
            return Layer0;
        }
        offset = (layer - 1) * StrideUpper;
        return Upper[id]!;
    }

    /// <summary>The neighbours of <paramref name="id"/> at <paramref name="layer"/>: read in place after the build, or
    /// copied under the node's lock while other threads may be rewriting it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<int> Neighbours(int id, int layer, SearchScratch scratch)
    {
        var list = List(id, layer, out var offset);
        var locks = Locks;
        if (locks is null) return list.AsSpan(offset + 1, list[offset]);
        lock (locks[id])
        {
            var n = list[offset];
            list.AsSpan(offset + 1, n).CopyTo(scratch.Links);
            return scratch.Links.AsSpan(0, n);
        }
    }

    /// <summary>Search with ef = 1 on an upper layer: move to the best neighbour while one beats the current node.
    /// No visited set is needed: the score strictly improves, so no node repeats.</summary>
    public int Greedy(ReadOnlySpan<float> query, int current, ref float currentScore, int layer, SearchScratch scratch)
    {
        bool moved;
        do
        {
            moved = false;
            var links = Neighbours(current, layer, scratch);
            scratch.Distances += links.Length;
            foreach (var id in links)
            {
                var score = Score(query, id);
                if (score > currentScore)
                {
                    currentScore = score;
                    current = id;
                    moved = true;
                }
            }
        } while (moved);
        return current;
    }

    /// <summary>
    /// Best-first search of one layer from the seeds already in scratch.Results/Candidates (and marked visited): expand
    /// the best unexpanded candidate, score its unvisited neighbours, keep the best <paramref name="ef"/>; stop when the
    /// best candidate is worse than the worst kept result (nothing reachable through it can enter the list).
    /// </summary>
    public void Expand(ReadOnlySpan<float> query, int layer, int ef, SearchScratch scratch)
    {
        var results = scratch.Results;
        var candidates = scratch.Candidates;
        var distances = 0L;
        var dimensions = (long)Dimensions;
        while (candidates.Count > 0)
        {
            var best = -candidates.TopScore;
            if (results.Count >= ef && best < results.TopScore) break;
            var node = candidates.TopId;
            candidates.Pop();
            var links = Neighbours(node, layer, scratch);
            if (Sse.IsSupported && links.Length > 0) Sse.Prefetch0(_vectors + links[0] * dimensions);
            for (var j = 0; j < links.Length; j++)
            {
                var id = links[j];
                // The next row is needed a few hundred cycles from now; its first cache line starts loading meanwhile
                // (the hardware prefetcher follows the rest of the row).
                if (Sse.IsSupported && j + 1 < links.Length) Sse.Prefetch0(_vectors + links[j + 1] * dimensions);
                if (!scratch.TryVisit(id)) continue;
                var score = Score(query, id);
                distances++;
                if (results.Count < ef || score > results.TopScore)
                {
                    candidates.Push(-score, id);
                    results.Push(score, id);
                    if (results.Count > ef) results.Pop();
                }
            }
        }
        scratch.Distances += distances;
    }

    /// <summary>Empties scratch.Results into scratch.Ids/Scores, best first, and returns how many.</summary>
    public static int DrainBestFirst(SearchScratch scratch)
    {
        var results = scratch.Results;
        var n = results.Count;
        scratch.EnsureCapacity(n);
        for (var i = n - 1; i >= 0; i--)
        {
            scratch.Ids[i] = results.TopId;
            scratch.Scores[i] = results.TopScore;
            results.Pop();
        }
        return n;
    }
}
