namespace Vib3.Storage;

/// <summary>
/// A read page, pinned in the cache until disposed. <see cref="Memory"/> is valid only until then: the page's buffer
/// is native memory that the cache reuses for another page (or frees) once nothing pins it, so a caller that needs the
/// bytes longer copies them.
/// </summary>
public sealed class PageLease : IDisposable
{
    private readonly CacheShare _cache;
    private CachedPage? _entry;

    internal PageLease(CacheShare cache, CachedPage entry, Tracing.PageReadOutcome outcome)
    {
        _cache = cache;
        _entry = entry;
        Page = entry.Page;
        Memory = entry.Data;
        Outcome = outcome;
    }

    public int Page { get; }
    public ReadOnlyMemory<byte> Memory { get; }

    /// <summary>How this read found the page: cached (a hit), already being read for someone else (joined), or read
    /// from disk for it (a miss, which includes a page this reader's own read-ahead brought in).</summary>
    public Tracing.PageReadOutcome Outcome { get; }

    public void Dispose()
    {
        var entry = Interlocked.Exchange(ref _entry, null);
        if (entry != null) _cache.Unpin(entry);
    }
}
