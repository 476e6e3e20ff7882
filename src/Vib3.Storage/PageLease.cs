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

    internal PageLease(CacheShare cache, CachedPage entry)
    {
        _cache = cache;
        _entry = entry;
        Page = entry.Page;
        Memory = entry.Data;
    }

    public int Page { get; }
    public ReadOnlyMemory<byte> Memory { get; }

    public void Dispose()
    {
        var entry = Interlocked.Exchange(ref _entry, null);
        if (entry != null) _cache.Unpin(entry);
    }
}
