namespace Vib3.Storage;

/// <summary>
/// Expert-aware eviction: least frequently used by a decayed count (to within a factor of √2), among those the
/// most recently used;
/// pages cached ahead of their read (prefetches) kept until read; dense pages (read by every token) only when
/// nothing else is evictable, most recently used first.
/// </summary>
/// <remarks>
/// Why frequency: routing is skewed per layer (a few experts take most tokens), and one token's reads of
/// cold experts, or a prefill touching every expert once, would push a hot expert out of an LRU. Why decayed:
/// routing drifts with the text, so a count from long ago should not pin a page forever. Each page keeps
/// its count as of its last access; between accesses the count halves every <c>halfLife</c> accesses (of any
/// page: the clock is the store's read count). Comparing pages at a common time t, count·2^(−(t−last)/H)
/// orders like log2(count) + last/H, which does not change until the page is read again, so the evictable
/// pages sit in a sorted set under that key: every operation is O(log n).
/// Why nearly equal counts tie, and ties go most recent first: reads come in passes, one per token, over the layers;
/// where routing repeats (a periodic text; greedy decoding, which falls into a loop of tokens) a page just read is the
/// one needed again last, as with dense pages below, and evicting least recent first misses every time. With exact
/// counts (no ties) a loop's pages differ only by where the loop stands, so the order is least recent first again: on
/// a greedy decode of the synthetic Mixtral at a 30 % budget that drops the byte hit rate from 61 % to 38 %. On the
/// recorded traces (vib3-bench policies) ties took the expert hit rate at 30 % from 11 % to 55 % (synthetic
/// Mixtral) and 9 % to 14 % (vib3-moe).
/// Why the tie is a factor of √2 (<c>tieWidth</c> 0.5, in doublings) and not 2: a trained model's routing has
/// next to no token-to-token locality (vib3-moe: an expert read by one token is read by the next with 44 % chance,
/// against 43 % for any token), so all that can be known of the next reads is the frequency, and a wider tie throws
/// part of it away: the hot experts of a layer are often within a factor of two of each other, and ties among them
/// evict the hottest as readily as the coldest. Halving the width took vib3-moe's byte / expert hit rate at 30 %
/// from 61.5 / 16.9 % to 62.6 / 18.8 % and at 50 % from 83.6 / 65.8 % to 84.0 / 66.7 %, within about a point of a
/// fixed set of the pages that turn out the most read (in hindsight, less one page of room for the read in flight:
/// 63.4 / 19.6 % and 84.6 / 68.5 %; with routing this independent from token to token, about what a policy without
/// foresight can reach — Belady's 66.9 / 37.6 % knows the future); the synthetic Mixtral keeps its gains (30 %:
/// 75.0 → 75.5 % sampled, 60.8 → 61.1 % greedy). Narrower still (a quarter) splits loops again (greedy synthetic Mixtral at 30 %: 61 → 57.5 %).
/// Per layer fairness comes from the clock: every decoded token reads top-k experts of every layer, so the
/// counts of different layers' experts are on the same scale. Why no per-layer byte quotas: with counts on one scale
/// the pages worth keeping are the most read ones whatever their layer, and a quota takes room from them (and from
/// the sparse embedding pages, which hold no layer) to give it to a layer's colder experts: measured, it raises the
/// expert hit rate (vib3-moe 30 %: 18.8 → 26.0 %) but lowers the byte hit rate, which is the disk traffic (vib3-moe
/// 50 %: 84.0 → 81.7 %, synthetic Mixtral 30 %: 75.5 → 72.7 %). Why no rule for an expert's pages as one bundle: they
/// are read together, so they already share a count and a recency, and go together; scoring per bundle changed
/// nothing measurable.
/// Why prefetched pages are kept: a page made resident with no read since it was last evicted (the store's
/// prefetch) has the lowest count of all, so frequency alone evicts it before the read it was fetched for. It is
/// kept aside, evicted after every read page, until it is read or <c>halfLife/8</c> accesses pass (a wrong
/// prediction: then it goes first).
/// Why dense pages go most recent first: every token reads all of them in the same order, a loop. When the
/// budget cannot hold them all, LRU evicts exactly the page the loop needs next and hits nothing; evicting the
/// most recent keeps a fixed subset resident, which hits on every pass (Belady's choice on a loop).
/// </remarks>
public sealed class LfruEvictionPolicy : IEvictionPolicy
{
    /// <summary>Counts within a factor of 2^0.5 = √2 tie (see remarks).</summary>
    public const double DefaultTieWidth = 0.5;

    private readonly IPageClasses? _classes;
    private readonly double? _fixedHalfLife;
    private readonly double _tieWidth;
    private readonly Dictionary<int, Score> _scores = new();
    private readonly HashSet<int> _readSinceEvicted = new();
    private readonly Dictionary<int, (Key Key, SortedSet<Key> Set)> _evictable = new();
    private readonly SortedSet<Key> _others = new(), _prefetched = new(), _dense = new();
    private long _clock;

    /// <param name="classes">Which pages are dense; null treats every page alike.</param>
    /// <param name="halfLifeAccesses">Accesses after which an untouched page's count halves; by default the number of
    /// pages in <paramref name="classes"/> (about one pass over the model's pages), at least 1024. For a pool shared by
    /// several stores that number follows the stores open in it, so it changes as models open and close: keys made
    /// before the change stay on the old scale until their page is read again, which only blurs the order a little
    /// for about one pass.</param>
    /// <param name="tieWidth">Decayed counts within a factor of 2^tieWidth of each other tie (are told apart by recency,
    /// most recent first); by default 0.5 (a factor of √2). 1 was this policy's earlier rule, kept for comparison
    /// (vib3-bench policies --tie-width).</param>
    public LfruEvictionPolicy(IPageClasses? classes, double? halfLifeAccesses = null, double tieWidth = DefaultTieWidth)
    {
        _classes = classes;
        if (halfLifeAccesses is { } h && !(h > 0)) throw new ArgumentOutOfRangeException(nameof(halfLifeAccesses), "the half-life must be positive");
        if (!(tieWidth > 0) || double.IsInfinity(tieWidth)) throw new ArgumentOutOfRangeException(nameof(tieWidth), "the tie width must be positive");
        _fixedHalfLife = halfLifeAccesses;
        _tieWidth = tieWidth;
    }

    private double HalfLife => _fixedHalfLife ?? Math.Max(1024, _classes?.PageCount ?? 0);

    private long PrefetchWindow => (long)Math.Max(1, HalfLife / 8);

    public void Accessed(int page)
    {
        long now = ++_clock;
        _scores[page] = new Score(DecayedCount(page, now) + 1, now);
        _readSinceEvicted.Add(page);
        if (_evictable.ContainsKey(page)) { Remove(page); Add(page); } // re-key under the new count
    }

    /// <summary>Stamped now with its count decayed to now, so recency is the release time (as in LRU); a page never
    /// read counts as read once.</summary>
    public void Add(int page)
    {
        Remove(page);
        var s = _scores[page] = new Score(Math.Max(1, DecayedCount(page, _clock)), _clock);
        var (key, set) = _classes?.IsDense(page) == true ? (new Key(-s.Last, s.Last, page), _dense)
            : !_readSinceEvicted.Contains(page) ? (new Key(s.Last, s.Last, page), _prefetched)
            : (new Key(Math.Floor((Math.Log2(s.Count) + s.Last / HalfLife) / _tieWidth), -s.Last, page), _others);
        _evictable[page] = (key, set);
        set.Add(key);
    }

    public void Remove(int page)
    {
        if (_evictable.Remove(page, out var e)) e.Set.Remove(e.Key);
    }

    public bool TryTakeVictim(out int page)
    {
        // A prefetch unread past its window was a wrong guess: it goes first; the others wait for their read.
        bool stalePrefetch = _prefetched.Count > 0 && _clock - _prefetched.Min.Last >= PrefetchWindow;
        var set = stalePrefetch ? _prefetched
            : _others.Count > 0 ? _others
            : _prefetched.Count > 0 ? _prefetched
            : _dense;
        if (set.Count == 0) { page = -1; return false; }
        page = set.Min.Page;
        Remove(page);
        _readSinceEvicted.Remove(page);
        return true;
    }

    /// <summary>The page's count goes too: its store closed, and the id may next name another store's page.</summary>
    public void Forget(int page)
    {
        Remove(page);
        _scores.Remove(page);
        _readSinceEvicted.Remove(page);
    }

    /// <summary>Forget the evictable pages; the counts stay, as a dropped cache does not make a hot page cold.</summary>
    public void Clear()
    {
        _evictable.Clear();
        _others.Clear();
        _prefetched.Clear();
        _dense.Clear();
        _readSinceEvicted.Clear();
    }

    private double DecayedCount(int page, long now) =>
        _scores.TryGetValue(page, out var s) ? s.Count * Math.Pow(2, -(now - s.Last) / HalfLife) : 0;

    private readonly record struct Score(double Count, long Last);

    /// <summary>Victims first: lowest value (the decayed count's log2 in units of the tie width, whole part; for dense pages, minus recency; for
    /// prefetches, age), then lowest Last (minus recency for read pages: the most recent first), then lowest page id.</summary>
    private readonly record struct Key(double Value, long Last, int Page) : IComparable<Key>
    {
        public int CompareTo(Key other)
        {
            int c = Value.CompareTo(other.Value);
            if (c == 0) c = Last.CompareTo(other.Last);
            return c != 0 ? c : Page.CompareTo(other.Page);
        }
    }
}
