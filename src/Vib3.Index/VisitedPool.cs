namespace Vib3.Index;

/// <summary>
/// Per-search working memory: the visited set, the two heaps and small buffers. A search rents one from the index's
/// <see cref="VisitedPool"/> and returns it, so a steady stream of queries allocates nothing.
/// </summary>
internal sealed class SearchScratch
{
    // [count] generation stamps: a node is visited in this search iff its stamp equals _generation. Bumping the
    // generation clears the set in O(1); ushort halves the cache footprint of int stamps, at the price of a real clear
    // every 65535 searches (negligible next to 65535 searches).
    private readonly ushort[] _stamps;
    private ushort _generation;

    public SearchScratch(int count, int dimensions)
    {
        _stamps = new ushort[count];
        Query = new float[dimensions];
    }

    /// <summary>Best results so far, worst on top (so the worst can be dropped when a better one arrives).</summary>
    public readonly ScoreHeap Results = new();

    /// <summary>Nodes still to expand, best on top (stored with negated scores in the same min-heap).</summary>
    public readonly ScoreHeap Candidates = new();

    /// <summary>[dimensions] the query normalised, under Cosine.</summary>
    public readonly float[] Query;

    /// <summary>Sort/selection buffers, grown on demand: ids and their scores ([n] each).</summary>
    public int[] Ids = new int[64];
    public float[] Scores = new float[64];

    /// <summary>Copy of one neighbour list taken under its node lock during a parallel build ([1 + 2M]).</summary>
    public int[] Links = [];

    /// <summary>Second id buffer for the neighbour selection heuristic ([n]).</summary>
    public int[] Kept = new int[64];

    /// <summary>Distance computations by the search in progress (added to the index counter once, at the end).</summary>
    public long Distances;

    public void BeginVisit()
    {
        if (++_generation == 0)
        {
            Array.Clear(_stamps);
            _generation = 1;
        }
    }

    /// <summary>Marks <paramref name="id"/> visited; false if it already was.</summary>
    public bool TryVisit(int id)
    {
        ref var stamp = ref _stamps[id];
        if (stamp == _generation) return false;
        stamp = _generation;
        return true;
    }

    public void EnsureCapacity(int n)
    {
        if (Ids.Length >= n) return;
        var size = Math.Max(n, Ids.Length * 2);
        Ids = new int[size];
        Scores = new float[size];
        Kept = new int[size];
    }
}

/// <summary>Scratch objects for concurrent searches: a plain locked stack, because a ConcurrentStack allocates a
/// node per push and the point is zero allocations per query.</summary>
internal sealed class VisitedPool(int count, int dimensions)
{
    private readonly Stack<SearchScratch> _free = new();

    public SearchScratch Rent()
    {
        lock (_free)
            if (_free.TryPop(out var scratch)) return scratch;
        return new SearchScratch(count, dimensions);
    }

    public void Return(SearchScratch scratch)
    {
        lock (_free) _free.Push(scratch);
    }
}

/// <summary>Binary min-heap of (score, id). Hand-written rather than PriorityQueue: no comparer indirection, and
/// Top/Pop/Replace are what the search loop needs.</summary>
internal sealed class ScoreHeap
{
    private float[] _scores = new float[64];
    private int[] _ids = new int[64];

    public int Count { get; private set; }

    public float TopScore => _scores[0];

    public int TopId => _ids[0];

    public void Clear() => Count = 0;

    public void Push(float score, int id)
    {
        if (Count == _scores.Length)
        {
            Array.Resize(ref _scores, Count * 2);
            Array.Resize(ref _ids, Count * 2);
        }
        var i = Count++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (_scores[parent] <= score) break;
            _scores[i] = _scores[parent];
            _ids[i] = _ids[parent];
            i = parent;
        }
        _scores[i] = score;
        _ids[i] = id;
    }

    public void Pop()
    {
        var last = --Count;
        if (last > 0) SiftDown(_scores[last], _ids[last], last);
    }

    private void SiftDown(float score, int id, int count)
    {
        var i = 0;
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= count) break;
            if (child + 1 < count && _scores[child + 1] < _scores[child]) child++;
            if (_scores[child] >= score) break;
            _scores[i] = _scores[child];
            _ids[i] = _ids[child];
            i = child;
        }
        _scores[i] = score;
        _ids[i] = id;
    }
}
