using System.IO.Hashing;
using FASTER.core;
using Vib3.Core;
using Vib3.Storage.Device;
using Vib3.Storage.Memory;
using Vib3.Storage.Tracing;

namespace Vib3.Storage;

/// <summary>
/// Read side of a page store: T3 (the FASTER log on disk) fronted by T2 (a RAM-budgeted cache of native page buffers).
/// Thread-safe. Pages are read from the log's device straight into their cache buffers (no copy, no managed
/// allocation per read); every page read from disk is checked against the page table's XxHash64.
/// </summary>
public sealed partial class PageStore : IDisposable
{
    private readonly string _modelName;
    private readonly PageEntry[] _entries;
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly LogRecordReader _reader;
    private readonly CacheShare _cache;
    private readonly PagePool? _ownPool;
    private readonly SemaphoreSlim _diskSlots;
    private readonly Dictionary<int, Load> _inFlight = new(); // also the lock that orders loads against Dispose
    private readonly CancellationTokenSource _shutdown = new();
    private readonly int _readsInFlight;
    private readonly PageTraceWriter? _trace;
    private readonly LayerTierCounters? _layers;
    private readonly IPageMissObserver? _missObserver;
    private readonly IPageMemoryForm? _memoryForm;
    private readonly string _logDir;

    /// <summary>Expert-page reads per layer (hits, reads that joined one in progress, disk reads); null when the store
    /// was opened without the pages' classes.</summary>
    public IReadOnlyList<LayerTierStats>? ExpertTiersByLayer => _layers?.Snapshot();
    private long _hits, _hitBytes, _misses, _joinedReads, _bytesRead, _checksumFailures;
    private int _disposed;

    private PageStore(string modelName, string logDir, PageEntry[] entries, int maxPageBytes, IDevice device, FasterLog log,
        CacheShare cache, PagePool? ownPool, int readsInFlight, PageTraceWriter? trace, PageClassMap? classes,
        IPageMissObserver? missObserver, IPageMemoryForm? memoryForm)
    {
        _memoryForm = memoryForm;
        _ownPool = ownPool;
        _trace = trace;
        _missObserver = missObserver;
        _layers = classes is null ? null : new LayerTierCounters(classes);
        _modelName = modelName;
        _logDir = logDir;
        _entries = entries;
        MaxPageBytes = maxPageBytes;
        _device = device;
        _log = log;
        _reader = new LogRecordReader(device, log.HeaderSize);
        _cache = cache;
        _readsInFlight = readsInFlight;
        _diskSlots = new SemaphoreSlim(readsInFlight, readsInFlight);
    }

    /// <summary>
    /// Open a finished store. The RAM budget is the page cache's: a hard limit on the page memory the store holds
    /// (resident pages, pages pinned by leases, pages being read, free buffers kept for reuse; each page costs
    /// <see cref="PageCharge"/>), or with <see cref="PageStoreOptions.Pool"/> on what every store in the pool holds
    /// together. A miss that would go over it waits until leases end (see <see cref="ReadAsync"/>).
    /// The memory is native, outside the .NET heap, so the budget is not limited by the GC's heap ceiling.
    /// </summary>
    public static PageStore Open(string storeDir, string modelName, PageStoreOptions options) =>
        Open(storeDir, modelName, options, classes: null);

    /// <param name="classes">The pages' classes, for an expert-aware <see cref="PageStoreOptions.CachePolicy"/> and the
    /// per-layer counters (the caller that has the model's manifest knows them); null treats every page alike.</param>
    /// <param name="memoryForm">How the pages are held in RAM where that differs from the stored bytes (see
    /// <see cref="IPageMemoryForm"/>); null holds them as stored.</param>
    public static PageStore Open(string storeDir, string modelName, PageStoreOptions options, PageClassMap? classes,
        IPageMemoryForm? memoryForm = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ReadsInFlight < 1)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"ReadsInFlight must be at least 1, not {options.ReadsInFlight}");
        long budget = options.Pool?.CapacityBytes ?? options.RamBudgetBytes;
        if (budget <= 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"ram budget must be positive, not {budget}");

        string logDir = Path.Combine(storeDir, LogLayout.LogDirName);
        var entries = PageTableFile.Read(Path.Combine(storeDir, PageTableFile.FileName), modelName);
        var layout = LogLayout.Load(logDir);
        int maxPage = 0;
        foreach (var e in entries) maxPage = Math.Max(maxPage, e.Length);

        long minimum = MinimumRamBudget(maxPage);
        if (budget < minimum)
            throw new Vib3Exception(SqlState.InsufficientResources,
                $"ram budget {ByteSize.Format(budget)} ({budget} bytes) is below the minimum " +
                $"{ByteSize.Format(minimum)} ({minimum} bytes) " +
                $"for model {modelName} (its largest page, {ByteSize.Format(maxPage)}, needs a {ByteSize.Format(minimum)} buffer)");

        IDevice? device = null;
        FasterLog? log = null;
        PagePool? ownPool = null;
        try
        {
            device = options.Devices.Open(logDir, options.DirectIo, readOnly: true, options.ReadsInFlight);
            log = new FasterLog(layout.ReaderSettings(device, logDir));
            ValidateAgainstLog(entries, log, layout, modelName);
            if (options.Pool is null)
                ownPool = new PagePool(options.RamBudgetBytes, options.EvictionPolicy ?? CachePolicies.Create(options.CachePolicy, classes));
            var cache = (options.Pool ?? ownPool!).Cache.Attach(modelName, entries.Length, classes);
            return new PageStore(modelName, logDir, entries, maxPage, device, log, cache, ownPool, options.ReadsInFlight, options.Trace, classes,
                options.MissObserver, memoryForm);
        }
        catch (Exception e)
        {
            ownPool?.Dispose();
            log?.Dispose();
            device?.Dispose();
            if (e is IOException or UnauthorizedAccessException)
                throw new Vib3Exception(SqlState.IoError, $"cannot open page store {storeDir} for model {modelName}: {e.Message}", e);
            throw;
        }
    }

    /// <summary>What a page of <paramref name="pageBytes"/> costs the RAM budget while cached or being read: its
    /// buffer, which also holds the log record's header and the sector padding an aligned read needs.</summary>
    public static int PageCharge(int pageBytes) => LogLayout.PageBufferBytes(pageBytes);

    /// <summary>The smallest RAM budget a store whose largest page is <paramref name="maxPageBytes"/> opens with:
    /// room to cache that page. Leased pages count against the cache, so at this minimum one lease at a time is all
    /// that fits: a caller that holds leases while reading more needs room for all of them, or its next miss waits for
    /// a lease that it holds itself.</summary>
    public static long MinimumRamBudget(int maxPageBytes) => PageCharge(maxPageBytes);

    /// <summary>A RAM budget that holds <paramref name="pages"/> pages of <paramref name="pageBytes"/> at once.</summary>
    public static long RamBudgetFor(int pages, int pageBytes) => (long)pages * PageCharge(pageBytes);

    /// <summary>How many of this store's largest pages it may hold at once (at least 1): what the cache holds, or in a
    /// shared pool this store's even part of it (see <see cref="CacheShare.PagesThatFit"/>).</summary>
    public int PagesThatFit => _cache.PagesThatFit(PageCharge(MaxPageBytes));

    public int PageCount => _entries.Length;

    /// <summary>Page <paramref name="page"/>'s length in bytes, as stored.</summary>
    public int PageLength(int page)
    {
        CheckPage(page);
        return _entries[page].Length;
    }

    /// <summary>Length of the largest page in this store.</summary>
    public int MaxPageBytes { get; }

    /// <summary>True when segment reads bypass the OS page cache (O_DIRECT).</summary>
    public bool IsDirectIo => _device is DirectFileDevice d && d.IsDirect;

    /// <summary>Most disk reads outstanding at once on the O_DIRECT device (0 for the buffered one).</summary>
    internal int PeakReadsInFlight => _device is DirectFileDevice d ? d.PeakInFlight : 0;

    public PageEntry Entry(int page) => _entries[CheckPage(page)];

    public TierStats Stats
    {
        get
        {
            var c = _cache.Snapshot();
            return new TierStats(c.Pages, c.Bytes, _cache.CapacityBytes,
                Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), Interlocked.Read(ref _bytesRead),
                c.Evictions, Interlocked.Read(ref _checksumFailures),
                c.PinnedBytes, c.ReservedBytes, Interlocked.Read(ref _joinedReads), c.BudgetWaits, Interlocked.Read(ref _hitBytes));
        }
    }

    /// <summary>Counts a read that found the page cached: a hit, or a miss when this reader's own read-ahead brought
    /// it (the read was caused by this stream).</summary>
    private PageReadOutcome CountHit(int page)
    {
        if (TakeReadAhead(page))
        {
            CountMiss(page);
            return PageReadOutcome.Miss;
        }
        _trace?.Record(page, PageReadOutcome.Hit);
        _layers?.Hit(page);
        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _hitBytes, _entries[page].Length);
        CountPrefetchUse(page);
        return PageReadOutcome.Hit;
    }

    /// <summary>Page buffers allocated so far: reads beyond these reused an evicted page's buffer.</summary>
    internal long BufferAllocations => _cache.Snapshot().Allocations;

    /// <summary>Whether the page is in the cache now.</summary>
    internal bool IsCached(int page) => _cache.Contains(page);

    /// <summary>Dispose has begun (new reads are refused).</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// The page's bytes, pinned until the lease is disposed. A hit completes synchronously;
    /// concurrent misses of one page share a single disk read. A lease's bytes count against the
    /// RAM budget until it is disposed: when pinned pages and reads in progress fill the cache, a
    /// miss waits (cancellable through <paramref name="ct"/>) until a lease ends.
    /// </summary>
    /// <exception cref="Vib3Exception">InvalidParameterValue when the page id is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed, or was disposed while the read waited for RAM or a disk slot.</exception>
    public ValueTask<PageLease> ReadAsync(int page, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        CheckPage(page);
        var hit = _cache.TryPin(page);
        if (hit != null)
        {
            return ValueTask.FromResult(new PageLease(_cache, hit, CountHit(page)));
        }
        return new ValueTask<PageLease>(ReadMissAsync(page, ct));
    }

    /// <summary>
    /// Read every page in <paramref name="pages"/> with up to ReadsInFlight reads outstanding and
    /// hand each to <paramref name="consumer"/> (in completion order, possibly concurrently).
    /// The page stays pinned until the consumer's task completes.
    /// </summary>
    public Task ReadManyAsync(IReadOnlyList<int> pages, Func<int, ReadOnlyMemory<byte>, ValueTask> consumer,
        CancellationToken ct = default)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = _readsInFlight, CancellationToken = ct };
        return Parallel.ForEachAsync(pages, options, async (page, token) =>
        {
            using var lease = await ReadAsync(page, token).ConfigureAwait(false);
            await consumer(page, lease.Memory).ConfigureAwait(false);
        });
    }

    /// <summary>Empty the page cache (pages pinned by live leases stay). For benchmarks.</summary>
    public void DropCache() => _cache.DropUnpinned();

    /// <summary>What a cold start finds: the page cache emptied (<see cref="DropCache"/>) and the OS asked to forget
    /// its cached copy of the segment files (posix_fadvise DONTNEED, which needs no privilege and drops clean pages
    /// only), so the next reads come from the device even where the store reads through the OS page cache. Returns
    /// false where the OS cache cannot be dropped this way (not Linux, or a segment file that would not open).</summary>
    public bool DropCaches()
    {
        DropCache();
        if (!OperatingSystem.IsLinux()) return false;
        var dropped = true;
        foreach (var path in Directory.EnumerateFiles(_logDir, LogLayout.SegmentBaseName + ".*"))
        {
            var fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
            if (fd < 0) { dropped = false; continue; }
            dropped &= LibC.PosixFadvise(fd, 0, 0, LibC.POSIX_FADV_DONTNEED) == 0;
            LibC.Close(fd);
        }
        return dropped;
    }

    private async Task<PageLease> ReadMissAsync(int page, CancellationToken ct)
    {
        if (_missObserver is { } observer) await observer.MissedAsync(page).ConfigureAwait(false);
        Load load;
        var outcome = PageReadOutcome.Miss;
        lock (_inFlight)
        {
            ThrowIfDisposed();
            // A loader inserts and leaves _inFlight under this lock: if it did so since the first
            // check missed, the page is resident now and must not be read again.
            var hit = _cache.TryPin(page, accessed: false);
            if (hit != null)
            {
                return new PageLease(_cache, hit, CountHit(page));
            }
            if (_inFlight.TryGetValue(page, out load!))
            {
                load.Waiters++;
                if (TakeReadAhead(page)) CountMiss(page);
                else
                {
                    Interlocked.Increment(ref _joinedReads);
                    outcome = PageReadOutcome.Joined;
                    _trace?.Record(page, PageReadOutcome.Joined);
                    _layers?.Joined(page);
                    CountPrefetchUse(page);
                }
            }
            else
            {
                // Reserved (or queued) now, so the bytes are counted before the disk is touched. Only a request that
                // must queue gets a token of its own, to be withdrawn if every caller gives up before room comes
                // (Abandon); one granted at once (the usual case) costs no cancellation source.
                var charge = PageCharge(_entries[page].Length);
                load = new Load { Page = page, Waiters = 1 };
                Task<PageBuffer> reservation;
                if (_cache.TryReserveNow(charge) is { } now) reservation = Task.FromResult(now);
                else
                {
                    load.Room = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
                    reservation = _cache.ReserveAsync(charge, load.Room.Token);
                }
                load.Reservation = reservation;
                _inFlight[page] = load;
                CountMiss(page);
                _prefetchedUnused.TryRemove(page, out _); // prefetched once but evicted unused: this read is a miss
                _readAheadUnused.TryRemove(page, out _);
                // The load runs without the caller's token: other callers may be waiting on it.
                load.Task = LoadAsync(page, load, reservation);
            }
        }
        try
        {
            // The loader pinned the page once for every waiter: the lease takes over this caller's pin.
            return new PageLease(_cache, await load.Task.WaitAsync(ct).ConfigureAwait(false), outcome);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Abandon(load);
            throw;
        }
    }

    /// <summary>A waiter gave up: take it off the load, or drop the pin the loader made for it. When the last waiter of
    /// a load still queued for room gives up, the load leaves the queue: otherwise it would keep its place ahead of
    /// reads someone waits for, and a reader holding pages while its next read waits behind it (a page group under a
    /// tight budget) would wait for room that only its own pages could free.</summary>
    private void Abandon(Load load)
    {
        lock (_inFlight)
        {
            if (!load.Finished)
            {
                load.Waiters--;
                if (load.Waiters == 0 && load.Room is not null && !load.Reservation!.IsCompleted)
                {
                    LeaveInFlight(load);
                    // Under the lock, so the loader cannot have disposed it; the waiter's continuation runs
                    // asynchronously, not here.
                    load.Room.Cancel();
                }
                return;
            }
        }
        load.Task.ContinueWith(static (t, cache) =>
        {
            if (t.IsCompletedSuccessfully) ((CacheShare)cache!).Unpin(t.Result);
        }, _cache, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task<CachedPage> LoadAsync(int page, Load load, Task<PageBuffer> reservation)
    {
        await Task.Yield(); // registered in _inFlight before any work happens
        var entry = _entries[page];
        PageBuffer? buffer = null;
        CachedPage? cached = null;
        try
        {
            buffer = await reservation.ConfigureAwait(false);
            await _diskSlots.WaitAsync(_shutdown.Token).ConfigureAwait(false);
            int offset;
            try
            {
                // Not cancelled by Dispose: the device writes into the buffer until the read completes,
                // and Dispose waits for it, so the waiters get the real bytes.
                offset = await _reader.ReadAsync(entry.Address, entry.Length, buffer).ConfigureAwait(false);
            }
            catch (Vib3Exception e) when (e.SqlState == SqlState.IoError)
            {
                throw new Vib3Exception(SqlState.IoError, $"page {page} of model '{_modelName}': {e.Message}", e);
            }
            finally { _diskSlots.Release(); }
            Verify(page, entry, buffer, offset);
            _memoryForm?.ToMemory(page, buffer.GetSpan().Slice(offset, entry.Length));
            Interlocked.Add(ref _bytesRead, entry.Length);
            lock (_inFlight)
            {
                // Resident and pinned for every waiter before leaving _inFlight, so no reader can
                // miss both, and the bytes never leave the budget's count.
                cached = _cache.Insert(page, buffer, offset, entry.Length, load.Waiters);
                load.Finished = true;
                LeaveInFlight(load);
            }
            return cached;
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            throw Disposed($"it was disposed while page {page} waited for RAM or a disk slot");
        }
        finally
        {
            if (cached == null)
            {
                lock (_inFlight)
                {
                    load.Finished = true;
                    LeaveInFlight(load);
                }
                if (buffer != null) _cache.Release(buffer);
            }
            lock (_inFlight) load.Room?.Dispose(); // under the lock Abandon cancels it under
        }
    }

    /// <summary>Takes the load out of the in-flight table if it is still the one there (an abandoned load was taken out
    /// early, and a later read of the same page may have started another). Under the <c>_inFlight</c> lock.</summary>
    private void LeaveInFlight(Load load)
    {
        if (_inFlight.TryGetValue(load.Page, out var current) && current == load) _inFlight.Remove(load.Page);
    }

    private void Verify(int page, PageEntry entry, PageBuffer buffer, int offset)
    {
        int stored = _reader.StoredLength(buffer, offset);
        if (stored != entry.Length)
            throw Corrupt(page, $"the log record at address {entry.Address} holds {stored} bytes, the page table says {entry.Length}");
        ulong actual = XxHash64.HashToUInt64(buffer.GetSpan().Slice(offset, entry.Length));
        if (actual != entry.Checksum)
        {
            Interlocked.Increment(ref _checksumFailures);
            throw Corrupt(page, $"checksum mismatch (stored {entry.Checksum:x16}, read {actual:x16})");
        }
    }

    private Vib3Exception Corrupt(int page, string why) =>
        new(SqlState.DataCorrupted, $"page {page} of model '{_modelName}' is corrupt: {why}");

    private int CheckPage(int page)
    {
        if ((uint)page >= (uint)_entries.Length)
            throw new Vib3Exception(SqlState.InvalidParameterValue, _entries.Length == 0
                ? $"page {page} is out of range for model '{_modelName}' (it has no pages)"
                : $"page {page} is out of range for model '{_modelName}' (0..{_entries.Length - 1})");
        return page;
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0) throw Disposed("it is disposed");
    }

    private ObjectDisposedException Disposed(string why) =>
        new(nameof(PageStore), $"cannot read from the page store of model '{_modelName}': {why}");

    // A table row pointing past the committed log would read garbage or hang: refuse at open.
    private static void ValidateAgainstLog(PageEntry[] entries, FasterLog log, LogLayout layout, string modelName)
    {
        long end = log.CommittedUntilAddress;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Address < log.BeginAddress || e.Address + log.HeaderSize + e.Length > end
                || e.Length + log.HeaderSize > layout.PageSize)
                throw PageTableFile.Corrupt(modelName,
                    $"page {i} (address {e.Address}, length {e.Length}) lies outside the committed log [{log.BeginAddress}, {end})");
        }
    }

    /// <summary>
    /// Refuse new reads, cancel loads still waiting for RAM or a disk slot (their callers get
    /// ObjectDisposedException), wait for disk reads already under way (their callers get the
    /// bytes), then close the log and device and take the store's pages out of the pool, freeing their memory. Leases
    /// still held stay valid until disposed: their pages' buffers are freed (and leave the pool's count) then.
    /// </summary>
    public void Dispose()
    {
        Task[] loads;
        lock (_inFlight)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            loads = _inFlight.Values.Select(l => (Task)l.Task).ToArray();
        }
        _shutdown.Cancel();
        try { Task.WaitAll(loads); }
        catch (AggregateException) { /* each load's failure went to its own callers */ }
        _log.Dispose();
        _device.Dispose();
        _cache.Detach();
        _ownPool?.Dispose();
        _diskSlots.Dispose();
        _shutdown.Dispose();
    }

    /// <summary>One disk read and the callers waiting for it. Waiters and Finished are guarded by the _inFlight lock.</summary>
    private sealed class Load
    {
        public required int Page;
        public Task<CachedPage> Task = null!;
        public int Waiters;
        public bool Finished;

        /// <summary>Cancels the request for room while it is queued (a demand read's; a prefetch has its room already).</summary>
        public CancellationTokenSource? Room;

        public Task<PageBuffer>? Reservation;
    }
}
