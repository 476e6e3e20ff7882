using System.IO.Hashing;
using FASTER.core;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>
/// Writes a new page store: pages appended to a FASTER log under storeDir/log, one row per page
/// in storeDir/pages.tbl. Single-threaded; call <see cref="Complete"/> to make the store durable.
/// </summary>
/// <remarks>
/// Rows stream to pages.tbl.tmp as pages arrive (1.5M pages = 36 MB, no need to hold them) and
/// the file is renamed to pages.tbl only after the log is committed and everything is fsynced,
/// so the presence of pages.tbl means a finished store.
/// </remarks>
public sealed class PageLogWriter : IDisposable
{
    private readonly string _storeDir;
    private readonly string _logDir;
    private readonly string _tablePath;
    private readonly string _tableTmpPath;
    private readonly LogLayout _layout;
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly FileStream _table;
    private readonly byte[] _row = new byte[PageTableFile.RowBytes];
    private readonly XxHash64 _tableHash = new(); // the rows written so far, sealed with the header in Complete()
    private bool _completed, _disposed;

    private PageLogWriter(string storeDir, LogLayout layout)
    {
        _storeDir = storeDir;
        _logDir = Path.Combine(storeDir, LogLayout.LogDirName);
        _tablePath = Path.Combine(storeDir, PageTableFile.FileName);
        _tableTmpPath = _tablePath + ".tmp";
        _layout = layout;
        try
        {
            Directory.CreateDirectory(_logDir);
            layout.Save(_logDir);
            // Always our device on Linux: its write path reports errno (ENOSPC) back to FASTER.
            _device = StoreDevices.Default.Open(_logDir, direct: true, readOnly: false, ioThreads: LogLayout.WriterMemoryPages);
            _log = new FasterLog(layout.WriterSettings(_device, _logDir));
            _table = new FileStream(_tableTmpPath, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 20);
            Span<byte> header = stackalloc byte[PageTableFile.HeaderBytes];
            PageTableFile.WriteHeader(header, 0); // count is patched in Complete()
            _table.Write(header);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log?.Dispose();
            _device?.Dispose();
            throw IoErrors.Writing(storeDir, e);
        }
    }

    /// <summary>Start a new store in <paramref name="storeDir"/>, which must not already hold one.</summary>
    /// <param name="maxPageBytes">Largest page that will be appended; sizes FASTER's pages.</param>
    public static PageLogWriter Create(string storeDir, int maxPageBytes)
    {
        var layout = LogLayout.ForMaxPage(maxPageBytes);
        string logDir = Path.Combine(storeDir, LogLayout.LogDirName);
        if (File.Exists(Path.Combine(storeDir, PageTableFile.FileName))
            || (Directory.Exists(logDir) && Directory.EnumerateFileSystemEntries(logDir).Any()))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{storeDir} already holds a page store; remove it first");
        return new PageLogWriter(storeDir, layout);
    }

    /// <summary>Payload bytes appended so far (page bytes, not FASTER framing).</summary>
    public long BytesWritten { get; private set; }

    public int PageCount { get; private set; }

    /// <summary>Append one page; returns its index (0, 1, 2, ... in append order).</summary>
    public int Append(ReadOnlySpan<byte> page)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) throw new InvalidOperationException("the store is already complete");
        if (page.Length > _layout.MaxPageBytes)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"page {PageCount} is {page.Length} bytes, larger than maxPageBytes {_layout.MaxPageBytes}");
        if (PageCount == int.MaxValue)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "too many pages for one store");

        ulong checksum = XxHash64.HashToUInt64(page);
        long address;
        try { address = _log.Enqueue(page); }
        catch (Exception e) { throw IoErrors.Writing(_logDir, e); }

        PageTableFile.WriteRow(_row, PageCount, new PageEntry(address, page.Length, checksum));
        _tableHash.Append(_row);
        try { _table.Write(_row); }
        catch (IOException e) { throw IoErrors.Writing(_tableTmpPath, e); }
        BytesWritten += page.Length;
        return PageCount++;
    }

    /// <summary>Commit the log, write the page table and fsync it all; the directory is then a finished store.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) return;
        try { _log.Commit(spinWait: true); }
        catch (Exception e) { throw IoErrors.Writing(_logDir, e); }

        try
        {
            Span<byte> header = stackalloc byte[PageTableFile.HeaderBytes];
            PageTableFile.WriteHeader(header, PageCount);
            PageTableFile.Seal(_tableHash, header);
            _table.Position = 0;
            _table.Write(header);
            _table.Flush(flushToDisk: true);
            _table.Dispose();
            SyncLog();
            VerifyRecoverable();
            File.Move(_tableTmpPath, _tablePath);
            FileSync.FsyncDirectory(_storeDir);
        }
        catch (IOException e) { throw IoErrors.Writing(_tablePath, e); }
        _completed = true;
    }

    // Segment data went out via pwrite (O_DIRECT or not) and commit metadata via FASTER's own
    // device: fsync both, and the directories that name them.
    private void SyncLog()
    {
        if (_device is DirectFileDevice direct) direct.FlushToDisk();
        foreach (var file in Directory.EnumerateFiles(_logDir, "*", SearchOption.AllDirectories))
            if (_device is not DirectFileDevice || !file.StartsWith(Path.Combine(_logDir, LogLayout.SegmentBaseName), StringComparison.Ordinal))
                FileSync.FsyncFile(file);
        foreach (var dir in Directory.EnumerateDirectories(_logDir, "*", SearchOption.AllDirectories).Append(_logDir))
            FileSync.FsyncDirectory(dir);
    }

    // FASTER's commit-metadata writer only logs I/O errors (DeviceLogCommitCheckpointManager),
    // so a commit that hit a full disk can look successful. Recover the log the way a reader will
    // and refuse to finish the store if the commit did not land.
    private void VerifyRecoverable()
    {
        long expected = _log.CommittedUntilAddress;
        long recovered;
        using (var device = StoreDevices.Default.Open(_logDir, direct: true, readOnly: true, ioThreads: 1))
        using (var check = new FasterLog(_layout.ReaderSettings(device, _logDir)))
            recovered = check.CommittedUntilAddress;
        if (recovered >= expected) return;
        string why = $"log commit did not persist (recovers to address {recovered}, expected {expected})";
        long free = new DriveInfo(Path.GetFullPath(_logDir)).AvailableFreeSpace;
        throw free < (1L << 20)
            ? new Vib3Exception(SqlState.DiskFull, $"disk full writing {_logDir}: {why}")
            : new Vib3Exception(SqlState.IoError, $"i/o error writing {_logDir}: {why}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _log.Dispose();
        _device.Dispose();
        // An abandoned writer (e.g. after disk full) must not throw again from its buffered table
        // flush and hide the original error; the .tmp table never becomes pages.tbl anyway.
        try { _table.Dispose(); }
        catch (IOException) { }
    }
}
