using System.Collections.Concurrent;
using FASTER.core;

namespace Vib3.Storage.Device;

/// <summary>
/// A FASTER <see cref="IDevice"/> over Linux segment files opened with O_DIRECT, so the OS page
/// cache never becomes a hidden tier under vib3's RAM budget (FASTER's own Linux device,
/// ManagedLocalStorageDevice, goes through the page cache even with disableFileBuffering).
/// </summary>
/// <remarks>
/// Files are named like FASTER's: "{FileName}.{segment}", so a store written by this device can
/// be read by ManagedLocalStorageDevice and vice versa. FASTER hands us sector-aligned buffers,
/// offsets and lengths (it aligns to <see cref="StorageDeviceBase.SectorSize"/>, which we set to
/// 4096 because O_DIRECT needs logical-block alignment and 4096 covers every common disk).
/// Blocking pread/pwrite run on dedicated I/O threads, so up to that many requests are truly in
/// flight without starving the .NET thread pool. Errors are passed to FASTER as the errno in the
/// callback's error code, which FASTER turns into a CommitFailureException for writes.
/// </remarks>
public sealed unsafe class DirectFileDevice : StorageDeviceBase
{
    public const uint Sector = 4096;

    private readonly bool _readOnly;
    private readonly ISegmentOpener _opener;
    private readonly ConcurrentDictionary<int, SegmentFile> _segments = new();
    private readonly IoWorkers _workers;
    private int _fallbacks;
    private int _inFlight, _peakInFlight;
    private int _disposed;

    /// <param name="fileName">Base path; segment i lives in "{fileName}.{i}".</param>
    /// <param name="readOnly">Open existing segments read-only and never create files.</param>
    /// <param name="ioThreads">How many blocking I/Os may be in flight at once.</param>
    /// <param name="opener">Opens the segment files; null is open(2) (<see cref="PosixSegmentOpener"/>).</param>
    public DirectFileDevice(string fileName, bool readOnly, int ioThreads = 16, ISegmentOpener? opener = null)
        : base(fileName, Sector, Devices.CAPACITY_UNSPECIFIED)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("DirectFileDevice needs Linux (O_DIRECT, pread, pwrite)");
        _readOnly = readOnly;
        _opener = opener ?? PosixSegmentOpener.Instance;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(fileName))!);
        RecoverSegmentRange();
        // Open existing segments now, so IsDirect is known before the first read and a file
        // system that refuses O_DIRECT is detected at open, not mid-query.
        if (readOnly)
            for (int i = startSegment; i <= endSegment; i++) GetSegment(i);
        _workers = new IoWorkers(Math.Max(1, ioThreads), Path.GetFileName(fileName));
    }

    /// <summary>
    /// True while every segment opened so far bypasses the page cache. False once any segment had
    /// to fall back to buffered I/O + POSIX_FADV_DONTNEED (O_DIRECT is refused by e.g. tmpfs).
    /// </summary>
    public bool IsDirect => Volatile.Read(ref _fallbacks) == 0;

    /// <summary>Most I/Os ever outstanding at once (evidence that reads overlap; for tests and benchmarks).</summary>
    internal int PeakInFlight => Volatile.Read(ref _peakInFlight);

    public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress,
        uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        Submit(segmentId, write: true, (byte*)sourceAddress, numBytesToWrite, (long)destinationAddress, callback, context);

    public override void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress,
        uint readLength, DeviceIOCompletionCallback callback, object context) =>
        Submit(segmentId, write: false, (byte*)destinationAddress, readLength, (long)sourceAddress, callback, context);

    /// <summary>
    /// Runs one transfer on an I/O worker and reports errno (0 on success) through FASTER's callback.
    /// Nothing may escape onto the worker or FASTER's thread: any exception becomes EIO, and a
    /// transfer submitted after Dispose completes at once with EBADF.
    /// </summary>
    private void Submit(int segmentId, bool write, byte* buffer, uint length, long offset,
        DeviceIOCompletionCallback callback, object context)
    {
        if (Volatile.Read(ref _disposed) != 0 || !_workers.TryEnqueue(Work))
            Complete(callback, LibC.EBADF, 0, context);

        void Work()
        {
            uint error, done = 0;
            try
            {
                error = Transfer(GetSegment(segmentId), write, buffer, length, offset, out done);
            }
            catch (IOException e) { error = ErrorFrom(e); }
            catch (Exception) { error = LibC.EIO; }
            Complete(callback, error, done, context);
        }
    }

    /// <summary>A throwing callback must not kill the I/O thread (or the process); FASTER's own callbacks do not throw.</summary>
    private static void Complete(DeviceIOCompletionCallback callback, uint error, uint done, object context)
    {
        try { callback(error, done, context); }
        catch (Exception) { /* nobody to report to: the callback owns its failure */ }
    }

    public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result)
    {
        if (_segments.TryRemove(segment, out var seg))
            seg.Dispose();
        try { File.Delete(GetSegmentFilename(FileName, segment)); }
        catch (IOException) { /* FASTER treats segment removal as best effort */ }
        callback(result);
    }

    /// <summary>fsync every segment written through this device, then the directory holding them.</summary>
    public void FlushToDisk()
    {
        foreach (var seg in _segments.Values)
            if (LibC.FSync(seg.Fd) != 0)
                throw IoErrors.FromErrno(LibC.Errno, $"fsync {seg.Path}");
        FileSync.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(FileName))!);
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _workers.Dispose();
        foreach (var seg in _segments.Values) seg.Dispose();
        _segments.Clear();
    }

    private static uint ErrorFrom(IOException e) => (uint)(e.HResult & 0xFFFF) is var code and not 0 ? code : LibC.EIO;

    // pread/pwrite until done: both may transfer less than asked (signals, end of file, disk filling up).
    private uint Transfer(SegmentFile seg, bool write, byte* buffer, uint length, long offset, out uint done)
    {
        done = 0;
        int now = Interlocked.Increment(ref _inFlight);
        for (int peak = Volatile.Read(ref _peakInFlight); now > peak; peak = Volatile.Read(ref _peakInFlight))
            if (Interlocked.CompareExchange(ref _peakInFlight, now, peak) == peak) break;
        try { return TransferLoop(seg, write, buffer, length, offset, ref done); }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    private static uint TransferLoop(SegmentFile seg, bool write, byte* buffer, uint length, long offset, ref uint done)
    {
        while (done < length)
        {
            nint n = write
                ? LibC.PWrite(seg.Fd, buffer + done, length - done, offset + done)
                : LibC.PRead(seg.Fd, buffer + done, length - done, offset + done);
            if (n < 0)
            {
                int errno = LibC.Errno;
                if (errno == LibC.EINTR) continue;
                return (uint)errno;
            }
            if (n == 0)
            {
                // A read at end of file is fine (FASTER may over-read the last sector run);
                // a write that makes no progress means the device is full.
                if (write) return LibC.ENOSPC;
                break;
            }
            done += (uint)n;
        }
        if (!seg.IsDirect)
            _ = LibC.PosixFadvise(seg.Fd, offset, done, LibC.POSIX_FADV_DONTNEED);
        return 0;
    }

    private SegmentFile GetSegment(int segmentId)
    {
        if (_segments.TryGetValue(segmentId, out var seg)) return seg;
        lock (_segments)
        {
            if (_segments.TryGetValue(segmentId, out seg)) return seg;
            seg = SegmentFile.Open(GetSegmentFilename(FileName, segmentId), _readOnly, _opener);
            if (!seg.IsDirect) Interlocked.Increment(ref _fallbacks);
            _segments[segmentId] = seg;
            return seg;
        }
    }

    // Like FASTER's own devices: learn which segments already exist so truncation bookkeeping is right.
    private void RecoverSegmentRange()
    {
        var full = Path.GetFullPath(FileName);
        var dir = Path.GetDirectoryName(full)!;
        var bare = Path.GetFileName(full);
        var ids = new List<int>();
        foreach (var f in Directory.EnumerateFiles(dir, bare + ".*"))
            if (int.TryParse(Path.GetFileName(f).AsSpan(bare.Length + 1), out int id))
                ids.Add(id);
        if (ids.Count == 0) return;
        ids.Sort();
        startSegment = ids[0];
        endSegment = ids[^1];
    }
}
