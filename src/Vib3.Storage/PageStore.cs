using System.IO.Hashing;
using FASTER.core;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>
/// Read side of a page store: T3 (the FASTER log on disk) fronted by T2 (a RAM-budgeted cache).
/// Thread-safe. Every page read from disk is checked against the page table's XxHash64.
/// </summary>
public sealed class PageStore : IDisposable
{
    private readonly string _modelName;
    private readonly PageEntry[] _entries;
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly PageCache _cache;
    private readonly SemaphoreSlim _diskSlots;
    private readonly Dictionary<int, Task<byte[]>> _inFlight = new();
    private readonly int _readsInFlight;
    private long _hits, _misses, _bytesRead, _checksumFailures;
    private int _disposed;

    private PageStore(string modelName, PageEntry[] entries, int maxPageBytes, IDevice device, FasterLog log,
        PageCache cache, int readsInFlight)
    {
        _modelName = modelName;
        _entries = entries;
        MaxPageBytes = maxPageBytes;
        _device = device;
        _log = log;
        _cache = cache;
        _readsInFlight = readsInFlight;
        _diskSlots = new SemaphoreSlim(readsInFlight, readsInFlight);
    }

    /// <summary>
    /// Open a finished store. The RAM budget pays first for FASTER's per-read buffers
    /// (ReadsInFlight of them, each sized for the largest page); the rest is the page cache.
    /// </summary>
    public static PageStore Open(string storeDir, string modelName, PageStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ReadsInFlight < 1)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"ReadsInFlight must be at least 1, not {options.ReadsInFlight}");
        if (options.RamBudgetBytes <= 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"ram budget must be positive, not {options.RamBudgetBytes}");

        string logDir = Path.Combine(storeDir, LogLayout.LogDirName);
        var entries = PageTableFile.Read(Path.Combine(storeDir, PageTableFile.FileName));
        var layout = LogLayout.Load(logDir);
        int maxPage = 0;
        foreach (var e in entries) maxPage = Math.Max(maxPage, e.Length);

        long fasterBytes = FasterReadBufferBytes(maxPage, options.ReadsInFlight);
        long minimum = MinimumRamBudget(maxPage, options.ReadsInFlight);
        if (options.RamBudgetBytes < minimum)
            throw new Vib3Exception(SqlState.InsufficientResources,
                $"ram budget {ByteSize.Format(options.RamBudgetBytes)} is below the minimum {ByteSize.Format(minimum)} " +
                $"for model {modelName} (largest page {ByteSize.Format(maxPage)}; FASTER read buffers " +
                $"{ByteSize.Format(fasterBytes)} for {options.ReadsInFlight} reads in flight)");

        IDevice? device = null;
        FasterLog? log = null;
        try
        {
            device = StoreDevices.Create(logDir, options.DirectIo, readOnly: true, options.ReadsInFlight, options.ForceBufferedFallback);
            log = new FasterLog(layout.ReaderSettings(device, logDir));
            ValidateAgainstLog(entries, log, layout, Path.Combine(storeDir, PageTableFile.FileName));
            var cache = new PageCache(options.RamBudgetBytes - fasterBytes, options.EvictionPolicy ?? new LruEvictionPolicy());
            return new PageStore(modelName, entries, maxPage, device, log, cache, options.ReadsInFlight);
        }
        catch (Exception e)
        {
            log?.Dispose();
            device?.Dispose();
            if (e is IOException or UnauthorizedAccessException)
                throw new Vib3Exception(SqlState.IoError, $"cannot open page store {storeDir} for model {modelName}: {e.Message}", e);
            throw;
        }
    }

    /// <summary>RAM FASTER keeps for reads: one pooled aligned buffer per read in flight.</summary>
    internal static long FasterReadBufferBytes(int maxPageBytes, int readsInFlight) =>
        readsInFlight * LogLayout.ReadBufferBytes(maxPageBytes);

    /// <summary>The smallest RAM budget a store whose largest page is <paramref name="maxPageBytes"/> opens with:
    /// FASTER's read buffers plus room to cache one page.</summary>
    public static long MinimumRamBudget(int maxPageBytes, int readsInFlight = 16) =>
        FasterReadBufferBytes(maxPageBytes, readsInFlight) + maxPageBytes;

    public int PageCount => _entries.Length;

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
            var (pages, bytes) = _cache.Resident();
            return new TierStats(pages, bytes, _cache.CapacityBytes,
                Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), Interlocked.Read(ref _bytesRead),
                _cache.Evictions, Interlocked.Read(ref _checksumFailures));
        }
    }

    /// <summary>
    /// The page's bytes, pinned until the lease is disposed. A hit completes synchronously;
    /// concurrent misses of one page share a single disk read.
    /// </summary>
    public ValueTask<PageLease> ReadAsync(int page, CancellationToken ct = default)
    {
        CheckPage(page);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var hit = _cache.TryPin(page);
        if (hit != null)
        {
            Interlocked.Increment(ref _hits);
            return ValueTask.FromResult(new PageLease(_cache, hit));
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

    private async Task<PageLease> ReadMissAsync(int page, CancellationToken ct)
    {
        Task<byte[]> load;
        bool joined;
        lock (_inFlight)
        {
            joined = _inFlight.TryGetValue(page, out load!);
            if (!joined)
            {
                // The load runs without the caller's token: other callers may be waiting on it.
                load = LoadAsync(page);
                _inFlight[page] = load;
            }
        }
        if (joined) Interlocked.Increment(ref _hits);
        else Interlocked.Increment(ref _misses);
        byte[] data = await load.WaitAsync(ct).ConfigureAwait(false);
        // Pins the copy the loader made resident; re-inserts it (no disk read) if already evicted.
        return new PageLease(_cache, _cache.Insert(page, data, pin: true));
    }

    private async Task<byte[]> LoadAsync(int page)
    {
        await Task.Yield(); // registered in _inFlight before any work happens
        try
        {
            var entry = _entries[page];
            await _diskSlots.WaitAsync().ConfigureAwait(false);
            (byte[]? data, int length) result;
            try { result = await _log.ReadAsync(entry.Address, entry.Length).ConfigureAwait(false); }
            finally { _diskSlots.Release(); }
            var data = Verify(page, entry, result.data, result.length);
            Interlocked.Add(ref _bytesRead, data.Length);
            // Resident before leaving _inFlight, so no reader can miss both and read the disk twice.
            _cache.Insert(page, data, pin: false);
            return data;
        }
        finally
        {
            lock (_inFlight) _inFlight.Remove(page);
        }
    }

    private byte[] Verify(int page, PageEntry entry, byte[]? data, int length)
    {
        if (data is null)
            throw Corrupt(page, $"no readable log record at address {entry.Address} (corrupt record header or i/o error)");
        if (length != entry.Length)
            throw Corrupt(page, $"length mismatch (stored {entry.Length}, read {length})");
        ulong actual = XxHash64.HashToUInt64(data.AsSpan(0, length));
        if (actual != entry.Checksum)
        {
            Interlocked.Increment(ref _checksumFailures);
            throw Corrupt(page, $"checksum mismatch (stored {entry.Checksum:x16}, read {actual:x16})");
        }
        return data.Length == length ? data : data[..length];
    }

    private Vib3Exception Corrupt(int page, string why) =>
        new(SqlState.DataCorrupted, $"page {page} of model '{_modelName}' is corrupt: {why}");

    private int CheckPage(int page)
    {
        if ((uint)page >= (uint)_entries.Length)
            throw new ArgumentOutOfRangeException(nameof(page), page,
                $"page {page} is out of range: model '{_modelName}' has {_entries.Length} pages (0..{_entries.Length - 1})");
        return page;
    }

    // A table row pointing past the committed log would read garbage or hang: refuse at open.
    private static void ValidateAgainstLog(PageEntry[] entries, FasterLog log, LogLayout layout, string tablePath)
    {
        long end = log.CommittedUntilAddress;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Address < log.BeginAddress || e.Address + log.HeaderSize + e.Length > end
                || e.Length + log.HeaderSize > layout.PageSize)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"page table {tablePath} is corrupt: page {i} (address {e.Address}, length {e.Length}) lies outside the committed log [{log.BeginAddress}, {end})");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _log.Dispose();
        _device.Dispose();
        _diskSlots.Dispose();
    }
}
