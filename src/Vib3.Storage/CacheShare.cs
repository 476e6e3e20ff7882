using Vib3.Storage.Memory;

namespace Vib3.Storage;

/// <summary>
/// One store's part of a shared <see cref="PageCache"/>: the store asks by its own page ids, the share turns them into
/// the cache's keys (its range's base plus the page) and keeps the store's own counters. The counters are guarded
/// by the cache's lock; read them through <see cref="Snapshot"/>.
/// </summary>
internal sealed class CacheShare
{
    internal CacheShare(PageCache cache, int @base, int pageCount)
    {
        Cache = cache;
        Base = @base;
        PageCount = pageCount;
    }

    public PageCache Cache { get; }

    /// <summary>The cache's key of the store's page 0.</summary>
    public int Base { get; }

    public int PageCount { get; }

    public long CapacityBytes => Cache.CapacityBytes;

    // Guarded by the cache's lock.
    internal long Pages, ResidentBytes, PinnedBytes, ReservedBytes, Evictions, BudgetWaits, Allocations;
    internal bool Closed;

    public int Key(int page) => Base + page;

    public ShareCounters Snapshot() => Cache.Snapshot(this);

    /// <summary>How many pages of <paramref name="charge"/> bytes this store may hold at once without taking more than
    /// its part of the pool: the capacity split evenly among the stores open in it (at least 1). Callers that hold
    /// pages while they wait for more size what they hold by this, so stores holding at once never fill the pool
    /// with pages each holds while it waits for room that only another's release would make.</summary>
    public int PagesThatFit(int charge) =>
        (int)Math.Max(1, Math.Min(int.MaxValue, CapacityBytes / Math.Max(1, Cache.OpenShares) / charge));

    public CachedPage? TryPin(int page, bool accessed = true) => Cache.TryPin(this, page, accessed);

    public Task<PageBuffer> ReserveAsync(int bytes, CancellationToken ct) => Cache.ReserveAsync(this, bytes, ct);

    public PageBuffer? TryReserveNow(int bytes) => Cache.TryReserveNow(this, bytes);

    public bool Contains(int page) => Cache.Contains(this, page);

    public void Release(PageBuffer buffer) => Cache.Release(this, buffer);

    public CachedPage Insert(int page, PageBuffer buffer, int offset, int length, int pins) =>
        Cache.Insert(this, page, buffer, offset, length, pins);

    public void Unpin(CachedPage entry) => Cache.Unpin(entry);

    public void DropUnpinned() => Cache.DropUnpinned(this);

    /// <summary>The store closed: its pages leave the cache (see <see cref="PageCache.Detach"/>).</summary>
    public void Detach() => Cache.Detach(this);
}

/// <summary>One store's counters in a shared cache: its resident pages and their bytes, the part pinned by leases,
/// the capacity its reads in progress reserved, its pages evicted (by any store's reads), its reads that waited for
/// room, and the buffers its reads allocated.</summary>
internal readonly record struct ShareCounters(long Pages, long Bytes, long PinnedBytes, long ReservedBytes, long Evictions,
    long BudgetWaits, long Allocations);
