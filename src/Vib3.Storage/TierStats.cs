namespace Vib3.Storage;

/// <summary>A point-in-time snapshot of the T2 (host RAM) page cache counters.</summary>
/// <param name="ResidentPages">Pages held in the cache now.</param>
/// <param name="ResidentBytes">Bytes of those pages.</param>
/// <param name="CapacityBytes">Cache capacity: the RAM budget minus FASTER's read buffers.</param>
/// <param name="Hits">Reads served from the cache (including reads that joined another's in-flight disk read).</param>
/// <param name="Misses">Reads that went to disk (one per disk read, however many callers waited on it).</param>
/// <param name="BytesRead">Page bytes read from disk (sum of the lengths of missed pages).</param>
/// <param name="Evictions">Pages evicted to make room.</param>
/// <param name="ChecksumFailures">Disk reads whose bytes did not match the page table.</param>
public readonly record struct TierStats(
    long ResidentPages,
    long ResidentBytes,
    long CapacityBytes,
    long Hits,
    long Misses,
    long BytesRead,
    long Evictions,
    long ChecksumFailures);
