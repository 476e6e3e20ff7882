using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Models.Weights;

/// <summary>Pages read and how each was found: in RAM (a hit), joined to a read already under way, read from disk for
/// this reader; and reads started ahead by a prefetch. What EXPLAIN ANALYZE counts per operator.</summary>
public readonly record struct PageCounts(long Hits, long Joined, long FromDisk, long HitBytes, long JoinedBytes, long DiskBytes,
    long Prefetched = 0, long PrefetchedBytes = 0)
{
    public long Pages => Hits + Joined + FromDisk;

    /// <summary>Bytes of the pages read, however found (prefetches not included: their pages count when read).</summary>
    public long Bytes => HitBytes + JoinedBytes + DiskBytes;

    public static PageCounts operator +(PageCounts a, PageCounts b) => new(a.Hits + b.Hits, a.Joined + b.Joined, a.FromDisk + b.FromDisk,
        a.HitBytes + b.HitBytes, a.JoinedBytes + b.JoinedBytes, a.DiskBytes + b.DiskBytes, a.Prefetched + b.Prefetched,
        a.PrefetchedBytes + b.PrefetchedBytes);

    /// <summary>One read.</summary>
    public static PageCounts Of(PageReadOutcome outcome, int bytes) => outcome switch
    {
        PageReadOutcome.Hit => new(1, 0, 0, bytes, 0, 0),
        PageReadOutcome.Joined => new(0, 1, 0, 0, bytes, 0),
        _ => new(0, 0, 1, 0, 0, bytes),
    };
}

/// <summary>The pages the running operator has read (<see cref="Total"/>) and each read by its place in the list
/// streamed (<see cref="At"/>), so that a step's reads can be given to the statements whose rows caused them. Filled by
/// the streams' own loops, one thread at a time; reused by <see cref="Clear"/>.</summary>
public sealed class PageReadTally
{
    private PageCounts[] _reads = new PageCounts[64];

    public PageCounts Total { get; private set; }

    /// <summary>Added to the index of each read counted: a caller that streams a list in pieces (a row at a time) keeps
    /// the pieces apart.</summary>
    public int IndexBase { get; set; }

    /// <summary>The read at position <paramref name="index"/> of the list streamed.</summary>
    public PageCounts At(int index) => index < _reads.Length ? _reads[index] : default;

    public void Clear()
    {
        Total = default;
        IndexBase = 0;
    }

    /// <summary>A read of <paramref name="bytes"/> started ahead of need (expert prefetch).</summary>
    public void Prefetched(int bytes) => Total += new PageCounts(0, 0, 0, 0, 0, 0, 1, bytes);

    internal void Count(int index, PageLease lease)
    {
        var read = PageCounts.Of(lease.Outcome, lease.Memory.Length);
        Total += read;
        index += IndexBase;
        if (index >= _reads.Length) Array.Resize(ref _reads, Math.Max(index + 1, 2 * _reads.Length));
        _reads[index] = read;
    }
}
