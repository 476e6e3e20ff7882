namespace Vib3.Storage;

/// <summary>
/// A read page, pinned in the cache until disposed. The memory stays valid after disposal too
/// (buffers are never recycled), but only a held lease guarantees the page stays resident.
/// </summary>
public sealed class PageLease : IDisposable
{
    private readonly PageCache _cache;
    private CachedPage? _entry;

    internal PageLease(PageCache cache, CachedPage entry)
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
