namespace Vib3.Storage.Tracing;

/// <summary>Hits of one policy on one read sequence.</summary>
/// <param name="ExpertReads">Reads of expert pages (<see cref="PageKind.Expert"/>), and <paramref name="ExpertHits"/> their hits.</param>
/// <param name="Bytes">Bytes of all reads, and <paramref name="HitBytes"/> those served from the cache: what decides the disk
/// traffic, where pages differ in size (equal to the read counts when every page is one unit).</param>
public readonly record struct CacheSimResult(long Reads, long Hits, long ExpertReads, long ExpertHits, long Bytes, long HitBytes)
{
    public double HitRate => Reads == 0 ? 0 : (double)Hits / Reads;
    public double ByteHitRate => Bytes == 0 ? 0 : (double)HitBytes / Bytes;
    public double ExpertHitRate => ExpertReads == 0 ? 0 : (double)ExpertHits / ExpertReads;
}

/// <summary>
/// Replays a read sequence through an <see cref="IEvictionPolicy"/> — the very classes the store uses — on a cache
/// of <c>capacity</c> bytes (or equal-sized pages when no lengths are given), calling the policy as <see cref="PageCache"/> does: every read is
/// <see cref="IEvictionPolicy.Accessed"/>; a hit is pinned (Remove) and released (Add) by its lease; a miss
/// evicts victims until a page fits, then the page is inserted and released (Add). Leases end at once here,
/// so the policy always has every resident page but the one being read to choose from.
/// </summary>
public static class CacheSimulator
{
    /// <param name="capacity">Bytes the cache holds; pages when <paramref name="pageBytes"/> is null (every page costs 1).</param>
    /// <param name="countFrom">Reads before this index drive the cache (a warm-up, e.g. the prefill) but are not counted.</param>
    /// <param name="pageBytes">Length of each page by id; null makes every page one unit.</param>
    public static CacheSimResult Run(IReadOnlyList<int> pages, long capacity, IEvictionPolicy policy, PageClassMap? classes = null,
        int countFrom = 0, IReadOnlyList<int>? pageBytes = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var resident = new HashSet<int>();
        long used = 0;
        long reads = 0, hits = 0, expertReads = 0, expertHits = 0, bytes = 0, hitBytes = 0;
        for (var i = 0; i < pages.Count; i++)
        {
            var page = pages[i];
            policy.Accessed(page);
            bool counted = i >= countFrom, expert = counted && classes?[page].Kind == PageKind.Expert;
            long size = pageBytes?[page] ?? 1;
            if (counted) { reads++; bytes += size; }
            if (expert) expertReads++;
            if (resident.Contains(page))
            {
                if (counted) { hits++; hitBytes += size; }
                if (expert) expertHits++;
                policy.Remove(page);
            }
            else
            {
                if (size > capacity) throw new ArgumentException($"page {page} ({size}) is larger than the cache ({capacity})", nameof(capacity));
                while (used + size > capacity)
                {
                    if (!policy.TryTakeVictim(out var victim) || !resident.Remove(victim))
                        throw new InvalidOperationException($"{policy.GetType().Name} offered no resident victim with {resident.Count} pages cached");
                    used -= pageBytes?[victim] ?? 1;
                }
                resident.Add(page);
                used += size;
            }
            policy.Add(page);
        }
        return new CacheSimResult(reads, hits, expertReads, expertHits, bytes, hitBytes);
    }
}
