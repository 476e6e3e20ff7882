namespace Vib3.Storage.Device;

/// <summary>One open segment file descriptor, O_DIRECT when the file system allows it.</summary>
internal sealed class SegmentFile : IDisposable
{
    private int _fd;

    private SegmentFile(string path, int fd, bool isDirect)
    {
        Path = path;
        _fd = fd;
        IsDirect = isDirect;
    }

    public string Path { get; }
    public int Fd => _fd;
    public bool IsDirect { get; }

    public static SegmentFile Open(string path, bool readOnly, ISegmentOpener opener)
    {
        int fd = opener.Open(path, readOnly, direct: true);
        if (fd >= 0) return new SegmentFile(path, fd, isDirect: true);
        // File systems without O_DIRECT (tmpfs before Linux 6.6, some FUSE/overlay) refuse it
        // with EINVAL: fall back to buffered I/O and drop what we touched from the page cache
        // after each transfer.
        if (-fd != LibC.EINVAL)
            throw IoErrors.FromErrnoIo(-fd, $"open {path}");
        fd = opener.Open(path, readOnly, direct: false);
        if (fd < 0)
            throw IoErrors.FromErrnoIo(-fd, $"open {path}");
        // Measured: kernel read-ahead pulls in pages beyond each read that a DONTNEED of the read's
        // own range never drops (740 of 1024 pages stayed cached). FADV_RANDOM turns read-ahead off.
        _ = LibC.PosixFadvise(fd, 0, 0, LibC.POSIX_FADV_RANDOM);
        return new SegmentFile(path, fd, isDirect: false);
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) LibC.Close(fd);
    }
}
