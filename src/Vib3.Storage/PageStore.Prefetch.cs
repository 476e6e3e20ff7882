using System.Collections.Concurrent;
using Vib3.Storage.Tracing;

namespace Vib3.Storage;

/// <summary>What prefetching did: reads started, how many of those pages a later read used (a hit, or a read that
/// joined the prefetch while it was still loading), and prefetches skipped because the cache had no room without
/// waiting. Issued − Used is the upper bound of wasted reads (some may still be used later).</summary>
public readonly record struct PrefetchStats(long Issued, long Used, long Skipped, long BytesIssued);

public sealed partial class PageStore
{
    private readonly ConcurrentDictionary<int, byte> _prefetchedUnused = new();
    private readonly ConcurrentDictionary<int, byte> _readAheadUnused = new();
    private long _prefetchIssued, _prefetchUsed, _prefetchSkipped, _prefetchBytes;

    public PrefetchStats Prefetches => new(Interlocked.Read(ref _prefetchIssued), Interlocked.Read(ref _prefetchUsed),
        Interlocked.Read(ref _prefetchSkipped), Interlocked.Read(ref _prefetchBytes));

    /// <summary>Starts reading <paramref name="page"/> into the cache without holding it, so that a read soon after
    /// hits (or joins the read in progress). Nothing happens when the page is resident or already being read, or when
    /// the cache has no room without waiting — a prefetch never queues ahead of demand reads. The page stays
    /// evictable once loaded. Returns whether a read was started; a failed prefetch read is dropped silently (the
    /// demand read that needs the page will report the error).</summary>
    public bool Prefetch(int page) => StartLoad(page, predicted: true);

    /// <summary>As <see cref="Prefetch"/>, for a page the caller knows it will read shortly (the next pages of a
    /// known list) rather than one predicted: not counted in <see cref="Prefetches"/>, whose figures score predictions,
    /// and the read that uses it counts as the disk read it is (a miss of its layer), issued early, not as a hit.</summary>
    public bool ReadAhead(int page) => StartLoad(page, predicted: false);

    private bool StartLoad(int page, bool predicted)
    {
        CheckPage(page);
        lock (_inFlight)
        {
            if (IsDisposed || _cache.Contains(page) || _inFlight.ContainsKey(page)) return false;
            var length = _entries[page].Length;
            if (_cache.TryReserveNow(PageCharge(length)) is not { } buffer)
            {
                if (predicted) Interlocked.Increment(ref _prefetchSkipped);
                return false;
            }
            var load = new Load { Page = page, Waiters = 0 };
            _inFlight[page] = load;
            if (!predicted) _readAheadUnused[page] = 0;
            else
            {
                _prefetchedUnused[page] = 0;
                Interlocked.Increment(ref _prefetchIssued);
                Interlocked.Add(ref _prefetchBytes, length);
            }
            load.Task = LoadAsync(page, load, Task.FromResult(buffer));
            load.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return true;
    }

    // ContainsKey first: it takes no lock (IsEmpty on an empty ConcurrentDictionary takes every lock, and a hit asks
    // this of every page it finds: two thousand times a token at one neuron a page).
    /// <summary>A demand read of a page read ahead (hit, or joined its load): the first one is that read-ahead's use.</summary>
    private bool TakeReadAhead(int page) => _readAheadUnused.ContainsKey(page) && _readAheadUnused.TryRemove(page, out _);

    private void CountMiss(int page)
    {
        Interlocked.Increment(ref _misses);
        _trace?.Record(page, PageReadOutcome.Miss);
        _layers?.Miss(page);
    }

    /// <summary>A demand read found a prefetched page (hit or joined its load): the prefetch was useful.</summary>
    private void CountPrefetchUse(int page)
    {
        if (_prefetchedUnused.ContainsKey(page) && _prefetchedUnused.TryRemove(page, out _)) Interlocked.Increment(ref _prefetchUsed);
    }
}
