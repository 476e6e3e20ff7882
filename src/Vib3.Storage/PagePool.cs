using Vib3.Core;

namespace Vib3.Storage;

/// <summary>
/// A RAM budget for pages shared by every page store opened with it (<see cref="PageStoreOptions.Pool"/>): the
/// engine's <c>--ram-budget</c>, however many models are open. The stores' pages sit in one cache under one eviction
/// policy, so the page memory of all of them together (resident, pinned, being read, free for reuse) never exceeds
/// <see cref="CapacityBytes"/>, a read of one model evicts another's pages when they rank lowest (an idle model's
/// pages drift to the bottom), and a read waiting for room is woken by a lease ending in any store. A store that
/// closes takes its pages out at once (those a lease still holds, when the lease ends). A store opened without a
/// pool gets one of its own.
/// Thread-safe. Dispose after the stores: pages still leased are freed when their leases end.
/// </summary>
public sealed class PagePool : IDisposable
{
    /// <param name="capacityBytes">The budget in bytes (positive).</param>
    /// <param name="policy">The eviction policy of the shared cache; LFRU sees the dense pages of every store open in it.</param>
    public PagePool(long capacityBytes, CachePolicy policy = CachePolicy.Lfru)
    {
        CheckCapacity(capacityBytes);
        var keys = new PageKeySpace();
        Cache = new PageCache(capacityBytes, CachePolicies.Create(policy, keys), keys);
    }

    /// <summary>A pool for one store, with the policy the store's options name (which may know the store's classes).</summary>
    internal PagePool(long capacityBytes, IEvictionPolicy policy)
    {
        CheckCapacity(capacityBytes);
        Cache = new PageCache(capacityBytes, policy, new PageKeySpace());
    }

    internal PageCache Cache { get; }

    public long CapacityBytes => Cache.CapacityBytes;

    /// <summary>What the pool holds now, over every store open in it.</summary>
    public PagePoolStats Stats => Cache.Snapshot();

    public void Dispose() => Cache.Dispose();

    private static void CheckCapacity(long capacityBytes)
    {
        if (capacityBytes <= 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"ram budget must be positive, not {capacityBytes}");
    }
}

/// <summary>A snapshot of a <see cref="PagePool"/>. <c>ResidentBytes + LoadingBytes + FreeBytes &lt;= CapacityBytes</c>
/// always, and ResidentBytes is the sum of the open stores' <see cref="TierStats.ResidentBytes"/> (plus pages of
/// closed stores that leases still hold).</summary>
/// <param name="CapacityBytes">The budget.</param>
/// <param name="Stores">Stores open in the pool.</param>
/// <param name="ResidentPages">Pages held now, pinned or not, of every store.</param>
/// <param name="ResidentBytes">Their buffers' bytes.</param>
/// <param name="PinnedBytes">Part of ResidentBytes held by leases.</param>
/// <param name="LoadingBytes">Capacity reserved for disk reads in progress.</param>
/// <param name="FreeBytes">Buffers that hold no page, kept for the next read of their size.</param>
/// <param name="Evictions">Pages evicted to make room, of every store.</param>
/// <param name="BudgetWaits">Reads that waited for room.</param>
public readonly record struct PagePoolStats(long CapacityBytes, int Stores, long ResidentPages, long ResidentBytes,
    long PinnedBytes, long LoadingBytes, long FreeBytes, long Evictions, long BudgetWaits);
