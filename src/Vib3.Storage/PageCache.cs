using Vib3.Storage.Memory;

namespace Vib3.Storage;

/// <summary>
/// T2: pages in host RAM under a hard byte capacity. Every byte of page memory the store holds is counted: resident
/// pages' buffers (pinned by leases or evictable), buffers handed to disk reads in progress, and free buffers kept for
/// reuse; together they never exceed the capacity. A read is granted its buffer before touching the disk; when the
/// capacity is taken by pinned pages and other reads, it waits (FIFO) for a lease to end instead of going over the
/// budget. Pinned pages are never evicted; the <see cref="IEvictionPolicy"/> picks among the rest, and an evicted
/// page's buffer goes to the next read of a page its size.
/// One lock guards everything: the critical sections are a few dictionary operations, far cheaper than the disk
/// reads they front.
/// </summary>
internal sealed class PageCache : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<int, CachedPage> _resident = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly FreeBuffers _free = new();
    private readonly IEvictionPolicy _policy;
    private long _residentBytes, _pinnedBytes, _reservedBytes;
    private long _evictions, _budgetWaits, _allocations;
    private bool _disposed;

    public PageCache(long capacityBytes, IEvictionPolicy policy)
    {
        CapacityBytes = capacityBytes;
        _policy = policy;
    }

    public long CapacityBytes { get; }
    public long Evictions => Interlocked.Read(ref _evictions);
    public long BudgetWaits => Interlocked.Read(ref _budgetWaits);

    /// <summary>Buffers allocated so far (the rest of the reads reused an evicted page's buffer).</summary>
    public long Allocations => Interlocked.Read(ref _allocations);

    public (long Pages, long Bytes, long PinnedBytes, long ReservedBytes) Snapshot()
    {
        lock (_gate) return (_resident.Count, _residentBytes, _pinnedBytes, _reservedBytes);
    }

    /// <summary>Pin and return the page if resident.</summary>
    /// <param name="accessed">Tell the eviction policy about the read (false for a re-check of the same read).</param>
    public CachedPage? TryPin(int page, bool accessed = true)
    {
        lock (_gate)
        {
            if (accessed) _policy.Accessed(page);
            if (!_resident.TryGetValue(page, out var entry)) return null;
            PinLocked(entry);
            return entry;
        }
    }

    /// <summary>
    /// A buffer of <paramref name="bytes"/> (a page's charge) for a disk read, evicting unpinned pages as needed.
    /// Completes synchronously when the room exists (or can be made by eviction); otherwise the request is queued,
    /// FIFO, until leases end or other reads give their buffers back. The caller must hand the buffer to
    /// <see cref="Insert"/> or give it back with <see cref="Release"/>.
    /// </summary>
    public Task<PageBuffer> ReserveAsync(int bytes, CancellationToken ct)
    {
        lock (_gate)
        {
            if (bytes > CapacityBytes)
                throw new InvalidOperationException($"a {bytes}-byte page can never fit a {CapacityBytes}-byte cache");
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_waiters.Count == 0 && TryGrantLocked(bytes) is { } granted) return Task.FromResult(granted);
            _budgetWaits++;
            var waiter = new Waiter(bytes);
            var node = _waiters.AddLast(waiter);
            if (ct.CanBeCanceled)
                waiter.Registration = ct.UnsafeRegister(static s =>
                {
                    var (cache, n) = ((PageCache, LinkedListNode<Waiter>))s!;
                    cache.CancelWait(n);
                }, (this, node));
            return waiter.Done.Task;
        }
    }

    /// <summary>A buffer only if the room exists now (by eviction if need be), never queueing: a prefetch must not
    /// hold up the demand reads queued for room.</summary>
    public PageBuffer? TryReserveNow(int bytes)
    {
        lock (_gate) return bytes <= CapacityBytes && !_disposed && _waiters.Count == 0 ? TryGrantLocked(bytes) : null;
    }

    /// <summary>Whether the page is resident (pinned or not); a snapshot, for prefetch decisions only.</summary>
    public bool Contains(int page)
    {
        lock (_gate) return _resident.ContainsKey(page);
    }

    /// <summary>Give back the buffer of a read that failed.</summary>
    public void Release(PageBuffer buffer)
    {
        lock (_gate)
        {
            _reservedBytes -= buffer.Capacity;
            Discard(buffer);
            PumpLocked();
        }
    }

    /// <summary>
    /// Make the page read into <paramref name="buffer"/> (its bytes at [offset, offset + length)) resident with
    /// <paramref name="pins"/> pins. If the page is already resident, pin that copy and keep the buffer for reuse.
    /// </summary>
    public CachedPage Insert(int page, PageBuffer buffer, int offset, int length, int pins)
    {
        lock (_gate)
        {
            _reservedBytes -= buffer.Capacity;
            if (_resident.TryGetValue(page, out var existing))
            {
                Discard(buffer);
                for (int i = 0; i < pins; i++) PinLocked(existing);
                PumpLocked();
                return existing;
            }
            var entry = new CachedPage(page, buffer, offset, length) { Pins = pins, Resident = !_disposed };
            if (entry.Resident)
            {
                _resident.Add(page, entry);
                _residentBytes += entry.Charge;
                if (pins > 0) _pinnedBytes += entry.Charge;
                else _policy.Add(page);
            }
            else if (pins == 0) ((IDisposable)buffer).Dispose(); // the cache is gone and nobody waits for the page
            PumpLocked();
            return entry;
        }
    }

    public void Unpin(CachedPage entry)
    {
        lock (_gate)
        {
            if (--entry.Pins != 0) return;
            if (entry.Resident)
            {
                _pinnedBytes -= entry.Charge;
                _policy.Add(entry.Page);
                PumpLocked();
            }
            else ((IDisposable)entry.Buffer).Dispose(); // the cache was disposed while this lease held the page
        }
    }

    /// <summary>Drop every unpinned page and free their memory; pinned pages stay until their leases end.</summary>
    public void DropUnpinned()
    {
        lock (_gate)
        {
            foreach (var entry in _resident.Values.Where(e => e.Pins == 0).ToList())
            {
                RemoveLocked(entry);
                _policy.Remove(entry.Page);
                ((IDisposable)entry.Buffer).Dispose();
            }
            _free.FreeAll();
        }
    }

    /// <summary>Free all page memory no lease holds; pages still pinned are freed when their last lease ends.
    /// Reads still in flight must have finished (the store waits for them).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            DropUnpinned();
            foreach (var entry in _resident.Values) entry.Resident = false;
            _resident.Clear();
            _disposed = true;
        }
    }

    private void PinLocked(CachedPage entry)
    {
        if (entry.Pins++ == 0 && entry.Resident)
        {
            _pinnedBytes += entry.Charge;
            _policy.Remove(entry.Page);
        }
    }

    /// <summary>
    /// A buffer of <paramref name="bytes"/> if pinned pages and reads in progress leave room for it (unpinned pages can
    /// always be evicted). Reuses a free buffer of that size, or an evicted page's; frees buffers of other sizes
    /// before evicting pages (they hold nothing); allocates only when no buffer of the size is to be had.
    /// </summary>
    private PageBuffer? TryGrantLocked(int bytes)
    {
        if (_pinnedBytes + _reservedBytes + bytes > CapacityBytes) return null;
        _reservedBytes += bytes;
        var buffer = _free.TryTake(bytes);
        while (_residentBytes + _reservedBytes + _free.Bytes > CapacityBytes)
        {
            if (_free.TryFreeOne()) continue;
            if (!TryEvictLocked(out var victim)) break; // unreachable while the accounting holds: see the check above
            if (buffer is null && victim.Capacity == bytes) buffer = victim;
            else _free.Add(victim);
        }
        if (buffer is not null) return buffer;
        _allocations++;
        return PageBuffer.Allocate(bytes);
    }

    /// <summary>Evict the policy's victim; its buffer is the caller's (counted nowhere until placed).</summary>
    private bool TryEvictLocked(out PageBuffer buffer)
    {
        while (_policy.TryTakeVictim(out int victim))
        {
            // The policy only ever holds unpinned pages; a custom policy that names a pinned one is not obeyed
            // (evicting it would leak its pinned bytes out of the accounting for good).
            if (!_resident.TryGetValue(victim, out var v) || v.Pins > 0) continue;
            RemoveLocked(v);
            _evictions++;
            buffer = v.Buffer;
            return true;
        }
        buffer = null!;
        return false;
    }

    private void RemoveLocked(CachedPage entry)
    {
        _resident.Remove(entry.Page);
        entry.Resident = false;
        _residentBytes -= entry.Charge;
    }

    /// <summary>Keep a buffer nobody uses for the next read its size (or free it once the cache is gone).</summary>
    private void Discard(PageBuffer buffer)
    {
        if (_disposed) ((IDisposable)buffer).Dispose();
        else _free.Add(buffer);
    }

    // Grant queued reservations in order; the head blocks the rest so a big page cannot starve.
    private void PumpLocked()
    {
        while (_waiters.First is { } head && TryGrantLocked(head.Value.Bytes) is { } buffer)
        {
            _waiters.RemoveFirst();
            head.Value.Registration.Unregister(); // not Dispose: that would wait for a running CancelWait, which waits for this lock
            head.Value.Done.TrySetResult(buffer);
        }
    }

    private void CancelWait(LinkedListNode<Waiter> node)
    {
        lock (_gate)
        {
            if (node.List == null) return; // already granted
            _waiters.Remove(node);
            node.Value.Done.TrySetCanceled();
            PumpLocked();
        }
    }

    private sealed class Waiter(int bytes)
    {
        public int Bytes { get; } = bytes;
        public TaskCompletionSource<PageBuffer> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration;
    }
}
