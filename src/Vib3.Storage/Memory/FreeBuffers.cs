namespace Vib3.Storage.Memory;

/// <summary>
/// Page buffers that hold no page (evicted, or a read that failed), kept by size for the next read of a page that
/// size. A MoE model's pages come in a handful of sizes (one per expert matrix shape), so after warm-up nearly every
/// miss reuses an evicted page's buffer: no allocation, no page faults on fresh memory. Free buffers still count
/// against the budget; the cache unmaps them first whenever it needs room for a buffer of another size.
/// Not thread-safe: the owning <see cref="PageCache"/>'s lock guards it.
/// </summary>
internal sealed class FreeBuffers
{
    private readonly Dictionary<int, Stack<PageBuffer>> _bySize = new();

    /// <summary>Sum of the free buffers' capacities.</summary>
    public long Bytes { get; private set; }

    public void Add(PageBuffer buffer)
    {
        if (!_bySize.TryGetValue(buffer.Capacity, out var stack)) _bySize[buffer.Capacity] = stack = new Stack<PageBuffer>();
        stack.Push(buffer);
        Bytes += buffer.Capacity;
    }

    /// <summary>A free buffer of exactly <paramref name="capacity"/> bytes, if there is one.</summary>
    public PageBuffer? TryTake(int capacity)
    {
        if (!_bySize.TryGetValue(capacity, out var stack) || !stack.TryPop(out var buffer)) return null;
        Bytes -= capacity;
        return buffer;
    }

    /// <summary>Unmap one free buffer (any size); false when there is none.</summary>
    public bool TryFreeOne()
    {
        foreach (var stack in _bySize.Values)
            if (stack.TryPop(out var buffer))
            {
                Bytes -= buffer.Capacity;
                ((IDisposable)buffer).Dispose();
                return true;
            }
        return false;
    }

    public void FreeAll()
    {
        while (TryFreeOne()) { }
    }
}
