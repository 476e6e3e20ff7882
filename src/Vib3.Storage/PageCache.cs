using Vib3.Storage.Memory;

namespace Vib3.Storage;

/// <summary>
/// T2: pages in host RAM under a hard byte capacity, shared by every store open in one <see cref="PagePool"/> (a store
/// of its own has a pool of its own). Each store reads through its <see cref="CacheShare"/>; the cache knows pages by
/// key (the store's range in a <see cref="PageKeySpace"/> plus the page), so one <see cref="IEvictionPolicy"/> ranks
/// the pages of every store together, and a read of one store evicts another's pages when they rank lowest (an idle
/// model's pages are the least recent and, by a decayed count, the least frequent).
/// Every byte of page memory the pool holds is counted: resident pages' buffers (pinned by leases or evictable),
/// buffers handed to disk reads in progress, and free buffers kept for reuse; together they never exceed the
/// capacity. A read is granted its buffer before touching the disk; when the capacity is taken by pinned pages and
/// other reads, it waits (FIFO, whichever store it is for) until a lease of any store ends, instead of going over the
/// budget. Pinned pages are never evicted; the policy picks among the rest, and an evicted page's buffer goes to the
/// next read of a page its size, whichever store it is for.
/// One lock guards everything: the critical sections are a few dictionary operations, far cheaper than the disk
/// reads they front.
/// </summary>
internal sealed class PageCache : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<int, CachedPage> _resident = new(); // by key
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly FreeBuffers _free = new();
    private readonly IEvictionPolicy _policy;
    private readonly PageKeySpace _keys;
    private long _residentBytes, _pinnedBytes, _reservedBytes;
    private long _evictions, _budgetWaits;
    private int _openShares;
    private bool _disposed;

    /// <param name="keys">The key space the stores' ranges come from; <paramref name="policy"/> may consult it.</param>
    public PageCache(long capacityBytes, IEvictionPolicy policy, PageKeySpace keys)
    {
        CapacityBytes = capacityBytes;
        _policy = policy;
        _keys = keys;
    }

    public long CapacityBytes { get; }

    /// <summary>Stores open in the cache now (a closed store whose leases are still held is not counted).</summary>
    public int OpenShares
    {
        get { lock (_gate) return _openShares; }
    }

    public PagePoolStats Snapshot()
    {
        lock (_gate)
            return new PagePoolStats(CapacityBytes, _openShares, _resident.Count, _residentBytes, _pinnedBytes, _reservedBytes,
                _free.Bytes, _evictions, _budgetWaits);
    }

    public ShareCounters Snapshot(CacheShare share)
    {
        lock (_gate)
            return new ShareCounters(share.Pages, share.ResidentBytes, share.PinnedBytes, share.ReservedBytes, share.Evictions,
                share.BudgetWaits, share.Allocations);
    }

    /// <summary>A share for a store of <paramref name="pages"/> pages (its range of keys).</summary>
    public CacheShare Attach(string modelName, int pages, PageClassMap? classes)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var share = new CacheShare(this, _keys.Allocate(pages, classes, modelName), pages);
            _openShares++;
            return share;
        }
    }

    /// <summary>The store closed (its reads have finished): its unpinned pages leave the cache now, its pinned ones
    /// when their leases end; its keys are forgotten by the policy and, once its last page is gone, given back.</summary>
    public void Detach(CacheShare share)
    {
        lock (_gate)
        {
            if (share.Closed) return;
            share.Closed = true;
            _openShares--;
            if (_disposed) return;
            foreach (var entry in _resident.Values.Where(e => e.Share == share && e.Pins == 0).ToList())
            {
                RemoveLocked(entry);
                ((IDisposable)entry.Buffer).Dispose();
            }
            for (int page = 0; page < share.PageCount; page++) _policy.Forget(share.Key(page));
            if (share.Pages == 0) _keys.Free(share.Base);
            PumpLocked();
        }
    }

    /// <summary>Pin and return the page if resident.</summary>
    /// <param name="accessed">Tell the eviction policy about the read (false for a re-check of the same read).</param>
    public CachedPage? TryPin(CacheShare share, int page, bool accessed)
    {
        lock (_gate)
        {
            int key = share.Key(page);
            if (!_resident.TryGetValue(key, out var entry))
            {
                if (accessed) _policy.Accessed(key);
                return null;
            }
            PinLocked(entry); // pinned before the access is counted: a pinned page is not evictable, so not re-keyed twice
            if (accessed) _policy.Accessed(key);
            return entry;
        }
    }

    /// <summary>
    /// A buffer of <paramref name="bytes"/> (a page's charge) for a disk read, evicting unpinned pages (of any store)
    /// as needed. Completes synchronously when the room exists (or can be made by eviction); otherwise the request is
    /// queued, FIFO, until leases end or other reads give their buffers back. The caller must hand the buffer to
    /// <see cref="Insert"/> or give it back with <see cref="Release"/>.
    /// </summary>
    public Task<PageBuffer> ReserveAsync(CacheShare share, int bytes, CancellationToken ct)
    {
        lock (_gate)
        {
            if (bytes > CapacityBytes)
                throw new InvalidOperationException($"a {bytes}-byte page can never fit a {CapacityBytes}-byte cache");
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_waiters.Count == 0 && TryGrantLocked(share, bytes) is { } granted) return Task.FromResult(granted);
            _budgetWaits++;
            share.BudgetWaits++;
            var waiter = new Waiter(share, bytes);
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

    /// <summary>A buffer only if the room exists now (by eviction if need be), never queueing and never ahead of
    /// reads queued for room: a prefetch must not hold them up, and a demand read tries this before it queues.</summary>
    public PageBuffer? TryReserveNow(CacheShare share, int bytes)
    {
        lock (_gate)
            return bytes <= CapacityBytes && !_disposed && _waiters.Count == 0 ? TryGrantLocked(share, bytes) : null;
    }

    /// <summary>Whether the page is resident (pinned or not); a snapshot, for prefetch decisions only.</summary>
    public bool Contains(CacheShare share, int page)
    {
        lock (_gate) return _resident.ContainsKey(share.Key(page));
    }

    /// <summary>Give back the buffer of a read that failed.</summary>
    public void Release(CacheShare share, PageBuffer buffer)
    {
        lock (_gate)
        {
            Unreserve(share, buffer);
            Discard(buffer);
            PumpLocked();
        }
    }

    /// <summary>
    /// Make the page read into <paramref name="buffer"/> (its bytes at [offset, offset + length)) resident with
    /// <paramref name="pins"/> pins. If the page is already resident, pin that copy and keep the buffer for reuse.
    /// </summary>
    public CachedPage Insert(CacheShare share, int page, PageBuffer buffer, int offset, int length, int pins)
    {
        lock (_gate)
        {
            Unreserve(share, buffer);
            int key = share.Key(page);
            if (_resident.TryGetValue(key, out var existing))
            {
                Discard(buffer);
                for (int i = 0; i < pins; i++) PinLocked(existing);
                PumpLocked();
                return existing;
            }
            // A store closes only once its reads have finished, so a closed share's insert is a guard, not a path:
            // its range may already name another store's pages.
            var entry = new CachedPage(share, page, buffer, offset, length) { Pins = pins, Resident = !_disposed && !share.Closed };
            if (entry.Resident)
            {
                _resident.Add(key, entry);
                _residentBytes += entry.Charge;
                share.Pages++;
                share.ResidentBytes += entry.Charge;
                if (pins > 0) AddPinned(entry, entry.Charge);
                else _policy.Add(key);
            }
            else if (pins == 0) Discard(buffer); // nobody waits for the page
            PumpLocked();
            return entry;
        }
    }

    public void Unpin(CachedPage entry)
    {
        lock (_gate)
        {
            if (--entry.Pins != 0) return;
            if (!entry.Resident)
            {
                ((IDisposable)entry.Buffer).Dispose(); // the pool was disposed while this lease held the page
                return;
            }
            // A page of a closed store is resident only if its lease outlived the store (Detach dropped the rest).
            AddPinned(entry, -entry.Charge);
            var share = entry.Share;
            if (share.Closed)
            {
                RemoveLocked(entry);
                ((IDisposable)entry.Buffer).Dispose();
                if (share.Pages == 0) _keys.Free(share.Base);
            }
            else _policy.Add(share.Key(entry.Page));
            PumpLocked();
        }
    }

    /// <summary>Drop every unpinned page of <paramref name="share"/>'s store and free their memory (and the free
    /// buffers); pinned pages stay until their leases end.</summary>
    public void DropUnpinned(CacheShare share)
    {
        lock (_gate)
        {
            foreach (var entry in _resident.Values.Where(e => e.Share == share && e.Pins == 0).ToList())
            {
                RemoveLocked(entry);
                _policy.Remove(share.Key(entry.Page));
                ((IDisposable)entry.Buffer).Dispose();
            }
            _free.FreeAll();
        }
    }

    /// <summary>Free all page memory no lease holds; pages still pinned are freed when their last lease ends.
    /// Reads still in flight must have finished (the stores wait for theirs as they close).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            foreach (var entry in _resident.Values)
            {
                entry.Resident = false;
                if (entry.Pins == 0) ((IDisposable)entry.Buffer).Dispose();
            }
            _resident.Clear();
            _policy.Clear();
            _free.FreeAll();
            _disposed = true;
        }
    }

    private void PinLocked(CachedPage entry)
    {
        if (entry.Pins++ == 0 && entry.Resident)
        {
            AddPinned(entry, entry.Charge);
            _policy.Remove(entry.Share.Key(entry.Page));
        }
    }

    private void AddPinned(CachedPage entry, long bytes)
    {
        _pinnedBytes += bytes;
        entry.Share.PinnedBytes += bytes;
    }

    private void Unreserve(CacheShare share, PageBuffer buffer)
    {
        _reservedBytes -= buffer.Capacity;
        share.ReservedBytes -= buffer.Capacity;
    }

    /// <summary>
    /// A buffer of <paramref name="bytes"/> if pinned pages and reads in progress leave room for it (unpinned pages can
    /// always be evicted). Reuses a free buffer of that size, or an evicted page's; frees buffers of other sizes
    /// before evicting pages (they hold nothing); allocates only when no buffer of the size is to be had.
    /// </summary>
    private PageBuffer? TryGrantLocked(CacheShare share, int bytes)
    {
        if (_pinnedBytes + _reservedBytes + bytes > CapacityBytes) return null;
        _reservedBytes += bytes;
        share.ReservedBytes += bytes;
        var buffer = _free.TryTake(bytes);
        while (_residentBytes + _reservedBytes + _free.Bytes > CapacityBytes)
        {
            if (_free.TryFreeOne()) continue;
            if (!TryEvictLocked(out var victim)) break; // unreachable while the accounting holds: see the check above
            if (buffer is null && victim.Capacity == bytes) buffer = victim;
            else _free.Add(victim);
        }
        if (buffer is not null) return buffer;
        share.Allocations++;
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
            v.Share.Evictions++;
            buffer = v.Buffer;
            return true;
        }
        buffer = null!;
        return false;
    }

    private void RemoveLocked(CachedPage entry)
    {
        _resident.Remove(entry.Share.Key(entry.Page));
        entry.Resident = false;
        _residentBytes -= entry.Charge;
        entry.Share.Pages--;
        entry.Share.ResidentBytes -= entry.Charge;
    }

    /// <summary>Keep a buffer nobody uses for the next read its size (or free it once the pool is gone).</summary>
    private void Discard(PageBuffer buffer)
    {
        if (_disposed) ((IDisposable)buffer).Dispose();
        else _free.Add(buffer);
    }

    // Grant queued reservations in order; the head blocks the rest so a big page cannot starve.
    private void PumpLocked()
    {
        while (_waiters.First is { } head && TryGrantLocked(head.Value.Share, head.Value.Bytes) is { } buffer)
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

    private sealed class Waiter(CacheShare share, int bytes)
    {
        public CacheShare Share { get; } = share;
        public int Bytes { get; } = bytes;
        public TaskCompletionSource<PageBuffer> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration;
    }
}
