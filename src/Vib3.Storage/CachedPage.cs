using Vib3.Storage.Memory;

namespace Vib3.Storage;

/// <summary>
/// One page's bytes (a slice of its <see cref="PageBuffer"/>: the buffer also holds the log record's header and the
/// sector padding around it) plus its pin count. Mutable fields are guarded by the owning <see cref="PageCache"/>'s
/// lock. The buffer is reused for another page once this one is evicted, which only happens while no lease pins it.
/// </summary>
internal sealed class CachedPage(CacheShare share, int page, PageBuffer buffer, int offset, int length)
{
    /// <summary>The store's part of the cache the page belongs to.</summary>
    public CacheShare Share { get; } = share;

    /// <summary>The page's id in its store.</summary>
    public int Page { get; } = page;

    public PageBuffer Buffer { get; } = buffer;

    /// <summary>The page's bytes: [offset, offset + length) of the buffer.</summary>
    public ReadOnlyMemory<byte> Data { get; } = buffer.Memory.Slice(offset, length);

    /// <summary>What the page costs the RAM budget: its whole buffer.</summary>
    public int Charge => Buffer.Capacity;

    public int Pins;
    public bool Resident;
}
