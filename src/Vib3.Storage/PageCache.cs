namespace Vib3.Storage;

/// <summary>
/// T2: pages in host RAM under a hard byte capacity. Every page byte the store holds is counted:
/// resident pages (pinned by leases or evictable) plus bytes reserved for disk reads in progress.
/// A read reserves its page's length before touching the disk; when the capacity is taken by pinned
/// pages and other reads, it waits (FIFO) for a lease to end instead of going over the budget.
/// Pinned pages are never evicted; the <see cref="IEvictionPolicy"/> picks among the rest.
/// One lock guards everything: the critical sections are a few dictionary operations, far
/// cheaper than the disk reads they front.
/// </summary>
internal sealed class PageCache
{
    private readonly object _gate = new();
    private readonly Dictionary<int, CachedPage> _resident = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly IEvictionPolicy _policy;
    private long _residentBytes, _pinnedBytes, _reservedBytes;
    private long _evictions, _budgetWaits;

    public PageCache(long capacityBytes, IEvictionPolicy policy)
    {
        CapacityBytes = capacityBytes;
        _policy = policy;
    }

    public long CapacityBytes { get; }
    public long Evictions => Interlocked.Read(ref _evictions);
    public long BudgetWaits => Interlocked.Read(ref _budgetWaits);

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
    /// Reserve <paramref name="bytes"/> of the capacity for a disk read, evicting unpinned pages
    /// as needed. Completes synchronously when the room exists (or can be made by eviction);
    /// otherwise the request is queued, FIFO, until leases end or other reservations are released.
    /// The caller must hand the reservation to <see cref="Insert"/> or give it back with <see cref="Release"/>.
    /// </summary>
    public Task ReserveAsync(long bytes, CancellationToken ct)
    {
        lock (_gate)
        {
            if (bytes > CapacityBytes)
                throw new InvalidOperationException($"a {bytes}-byte page can never fit a {CapacityBytes}-byte cache");
            if (_waiters.Count == 0 && TryReserveLocked(bytes)) return Task.CompletedTask;
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

    /// <summary>Reserve only if the room exists now (by eviction if need be), never queueing: a prefetch must not
    /// hold up the demand reads queued for room.</summary>
    public bool TryReserveNow(long bytes)
    {
        lock (_gate) return bytes <= CapacityBytes && _waiters.Count == 0 && TryReserveLocked(bytes);
    }

    /// <summary>Whether the page is resident (pinned or not); a snapshot, for prefetch decisions only.</summary>
    public bool Contains(int page)
    {
        lock (_gate) return _resident.ContainsKey(page);
    }

    /// <summary>Give back a reservation whose read failed.</summary>
    public void Release(long bytes)
    {
        lock (_gate)
        {
            _reservedBytes -= bytes;
            PumpLocked();
        }
    }

    /// <summary>
    /// Make freshly read bytes resident with <paramref name="pins"/> pins, converting the
    /// reservation made for them. If the page is already resident, pin that copy and give the
    /// reservation back.
    /// </summary>
    public CachedPage Insert(int page, byte[] data, long reserved, int pins)
    {
        lock (_gate)
        {
            _reservedBytes -= reserved;
            if (_resident.TryGetValue(page, out var existing))
            {
                for (int i = 0; i < pins; i++) PinLocked(existing);
                PumpLocked();
                return existing;
            }
            // The reservation covered data.Length; should the policy have been unable to give room
            // (a buggy custom policy), evict what it offers and stay resident anyway: the bytes exist.
            EvictLocked(data.Length);
            var entry = new CachedPage(page, data) { Pins = pins, Resident = true };
            _resident.Add(page, entry);
            _residentBytes += data.Length;
            if (pins > 0) _pinnedBytes += data.Length;
            else _policy.Add(page);
            PumpLocked();
            return entry;
        }
    }

    public void Unpin(CachedPage entry)
    {
        lock (_gate)
        {
            if (--entry.Pins == 0 && entry.Resident)
            {
                _pinnedBytes -= entry.Data.Length;
                _policy.Add(entry.Page);
                PumpLocked();
            }
        }
    }

    /// <summary>Drop every unpinned page; pinned pages stay until their leases end.</summary>
    public void DropUnpinned()
    {
        lock (_gate)
        {
            foreach (var entry in _resident.Values.Where(e => e.Pins == 0).ToList())
            {
                _resident.Remove(entry.Page);
                entry.Resident = false;
                _residentBytes -= entry.Data.Length;
                _policy.Remove(entry.Page);
            }
        }
    }

    private void PinLocked(CachedPage entry)
    {
        if (entry.Pins++ == 0 && entry.Resident)
        {
            _pinnedBytes += entry.Data.Length;
            _policy.Remove(entry.Page);
        }
    }

    // Unpinned pages can always be evicted, so a reservation fits when pinned + reserved does.
    private bool TryReserveLocked(long bytes)
    {
        if (_pinnedBytes + _reservedBytes + bytes > CapacityBytes) return false;
        _reservedBytes += bytes;
        EvictLocked(0);
        return true;
    }

    /// <summary>Evict until resident + reserved + <paramref name="extra"/> fits the capacity (or nothing is evictable).</summary>
    private void EvictLocked(long extra)
    {
        while (_residentBytes + _reservedBytes + extra > CapacityBytes && _policy.TryTakeVictim(out int victim))
        {
            // The policy only ever holds unpinned pages; a custom policy that names a pinned one is not obeyed
            // (evicting it would leak its pinned bytes out of the accounting for good).
            if (!_resident.TryGetValue(victim, out var v) || v.Pins > 0) continue;
            _resident.Remove(victim);
            v.Resident = false;
            _residentBytes -= v.Data.Length;
            _evictions++;
        }
    }

    // Grant queued reservations in order; the head blocks the rest so a big page cannot starve.
    private void PumpLocked()
    {
        while (_waiters.First is { } head && TryReserveLocked(head.Value.Bytes))
        {
            _waiters.RemoveFirst();
            head.Value.Registration.Unregister(); // not Dispose: that would wait for a running CancelWait, which waits for this lock
            head.Value.Done.TrySetResult();
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

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration;
    }
}
