namespace Vib3.Storage;

/// <summary>
/// Decides which cached page to evict. It only ever sees evictable pages: a page is added when it
/// becomes resident and unpinned, and removed when pinned by a lease or dropped from the cache.
/// </summary>
/// <remarks>
/// Calls are serialized by the cache's lock, so implementations need no locking of their own.
/// Expert-aware policies (recency + frequency per layer) plug in here; <see cref="Accessed"/>
/// gives them every read, hit or miss, for frequency counts.
/// </remarks>
public interface IEvictionPolicy
{
    /// <summary>Every read of a page: a miss's before its load, a hit's just after it is pinned (already out of the
    /// evictable set, so a policy need not re-order a page that is about to leave it).</summary>
    void Accessed(int page);

    /// <summary>The page is resident and no lease holds it: it may be chosen as a victim.</summary>
    void Add(int page);

    /// <summary>The page is pinned or gone; never offer it as a victim until added again.</summary>
    void Remove(int page);

    /// <summary>Pick and forget the page to evict next; false when nothing is evictable.</summary>
    bool TryTakeVictim(out int page);

    /// <summary>The page's store closed: forget everything about the page (a pool reuses its id for another store's
    /// page). Policies that keep nothing beyond the evictable set need only <see cref="Remove"/>.</summary>
    void Forget(int page) => Remove(page);

    /// <summary>Forget every page (the cache was dropped).</summary>
    void Clear();
}
