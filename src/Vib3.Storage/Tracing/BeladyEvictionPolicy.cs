namespace Vib3.Storage.Tracing;

/// <summary>
/// Belady's MIN: evict the page whose next read is farthest in the future (never read again first). Optimal
/// hit count for a cache of equal-sized pages, and only computable offline: it is given the whole read
/// sequence up front and must then see exactly those reads through <see cref="Accessed"/>, in order, which is
/// what <see cref="CacheSimulator"/> does. The yardstick the real policies are measured against.
/// </summary>
public sealed class BeladyEvictionPolicy : IEvictionPolicy
{
    private const int Never = int.MaxValue;
    private readonly int[] _pages;
    private readonly int[] _nextUse; // _nextUse[i]: index of the next read of _pages[i] after i, or Never
    private readonly Dictionary<int, int> _pageNextUse = new();
    private readonly Dictionary<int, (int Next, int Page)> _evictable = new();
    private readonly SortedSet<(int Next, int Page)> _byNextUse = new();
    private int _position = -1;

    public BeladyEvictionPolicy(int[] pages)
    {
        _pages = pages;
        _nextUse = new int[pages.Length];
        var seen = new Dictionary<int, int>();
        for (var i = pages.Length - 1; i >= 0; i--)
        {
            _nextUse[i] = seen.GetValueOrDefault(pages[i], Never);
            seen[pages[i]] = i;
        }
    }

    public void Accessed(int page)
    {
        if (++_position >= _pages.Length || _pages[_position] != page)
            throw new InvalidOperationException($"read {_position} is page {page}, but the sequence Belady was given says otherwise");
        _pageNextUse[page] = _nextUse[_position];
        if (_evictable.ContainsKey(page)) { Remove(page); Add(page); }
    }

    public void Add(int page)
    {
        Remove(page);
        var key = (_pageNextUse.GetValueOrDefault(page, Never), page);
        _evictable[page] = key;
        _byNextUse.Add(key);
    }

    public void Remove(int page)
    {
        if (_evictable.Remove(page, out var key)) _byNextUse.Remove(key);
    }

    public bool TryTakeVictim(out int page)
    {
        if (_byNextUse.Count == 0) { page = -1; return false; }
        var victim = _byNextUse.Max;
        _byNextUse.Remove(victim);
        _evictable.Remove(victim.Page);
        page = victim.Page;
        return true;
    }

    public void Clear()
    {
        _evictable.Clear();
        _byNextUse.Clear();
    }
}
