namespace Vib3.Storage;

/// <summary>A point-in-time snapshot of the T2 (host RAM) page cache counters.</summary>
/// <remarks>
/// Every page byte the store holds is in <see cref="ResidentBytes"/> (leased or evictable) or
/// <see cref="LoadingBytes"/> (being read), and <c>ResidentBytes + LoadingBytes &lt;= CapacityBytes</c>
/// always: a miss that does not fit waits (counted in <see cref="BudgetWaits"/>) until leases end.
/// Every read is exactly one of <see cref="Hits"/>, <see cref="Misses"/>, <see cref="JoinedReads"/>.
/// </remarks>
/// <param name="ResidentPages">Pages held in the cache now, pinned or not.</param>
/// <param name="ResidentBytes">RAM those pages take: their buffers (<see cref="PageStore.PageCharge"/>), not just their bytes.</param>
/// <param name="CapacityBytes">Cache capacity: the RAM budget (in a shared <see cref="PagePool"/>, the pool's, which
/// the other stores' pages take their part of).</param>
/// <param name="Hits">Reads served from RAM (the page was resident).</param>
/// <param name="Misses">Reads that started a disk read (one per disk read).</param>
/// <param name="BytesRead">Page bytes read from disk (sum of the lengths of missed pages).</param>
/// <param name="Evictions">This store's pages evicted to make room (in a shared pool, by any store's reads).</param>
/// <param name="ChecksumFailures">Disk reads whose bytes did not match the page table.</param>
/// <param name="PinnedBytes">Part of <see cref="ResidentBytes"/> held by live leases, which cannot be evicted.</param>
/// <param name="LoadingBytes">Capacity reserved for disk reads in progress (not yet resident).</param>
/// <param name="JoinedReads">Reads that waited for another read's disk read of the same page (no disk read of their own).</param>
/// <param name="BudgetWaits">Disk reads that had to wait for leases to end because pinned and loading pages filled the cache.</param>
/// <param name="HitBytes">Bytes of the pages served from RAM (the T2 traffic; BytesRead is the disk traffic).</param>
public readonly record struct TierStats(
    long ResidentPages,
    long ResidentBytes,
    long CapacityBytes,
    long Hits,
    long Misses,
    long BytesRead,
    long Evictions,
    long ChecksumFailures,
    long PinnedBytes,
    long LoadingBytes,
    long JoinedReads,
    long BudgetWaits,
    long HitBytes);
