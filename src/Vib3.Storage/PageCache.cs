namespace Vib3.Storage;

/// <summary>
/// T2: pages in host RAM under a byte capacity. Pinned pages (held by a lease) are never evicted;
/// the <see cref="IEvictionPolicy"/> picks among the rest. One lock guards everything: the
/// critical sections are a few dictionary operations, far cheaper than the disk reads they front.
/// </summary>
internal sealed class PageCache
{
    private readonly object _gate = new();
    private readonly Dictionary<int, CachedPage> _resident = new();
    private readonly IEvictionPolicy _policy;
    private long _residentBytes;
    private long _evictions;

    public PageCache(long capacityBytes, IEvictionPolicy policy)
    {
        CapacityBytes = capacityBytes;
        _policy = policy;
    }

    public long CapacityBytes { get; }
    public long Evictions => Interlocked.Read(ref _evictions);

    public (long Pages, long Bytes) Resident()
    {
        lock (_gate) return (_resident.Count, _residentBytes);
    }

    /// <summary>Pin and return the page if resident.</summary>
    public CachedPage? TryPin(int page)
    {
        lock (_gate)
        {
            _policy.Accessed(page);
            if (!_resident.TryGetValue(page, out var entry)) return null;
            PinLocked(entry);
            return entry;
        }
    }

    /// <summary>
    /// Make freshly read bytes resident (evicting unpinned pages as needed), pinned or not. If the
    /// page is already resident, use that copy. If it cannot fit because everything else is
    /// pinned, or it is bigger than the cache, it is returned (pinned if asked) but not resident.
    /// </summary>
    public CachedPage Insert(int page, byte[] data, bool pin)
    {
        lock (_gate)
        {
            if (_resident.TryGetValue(page, out var existing))
            {
                if (pin) PinLocked(existing);
                return existing;
            }
            var entry = new CachedPage(page, data) { Pins = pin ? 1 : 0 };
            if (data.Length > CapacityBytes) return entry;
            while (_residentBytes + data.Length > CapacityBytes)
            {
                if (!_policy.TryTakeVictim(out int victim)) return entry;
                var v = _resident[victim];
                _resident.Remove(victim);
                v.Resident = false;
                _residentBytes -= v.Data.Length;
                _evictions++;
            }
            entry.Resident = true;
            _resident.Add(page, entry);
            _residentBytes += data.Length;
            if (!pin) _policy.Add(page);
            return entry;
        }
    }

    public void Unpin(CachedPage entry)
    {
        lock (_gate)
        {
            if (--entry.Pins == 0 && entry.Resident)
                _policy.Add(entry.Page);
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
            _policy.Remove(entry.Page);
    }
}
