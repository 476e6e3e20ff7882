using Vib3.Storage.Device;

namespace Vib3.Storage.Catalog;

/// <summary>An exclusive advisory lock on a file, held for as long as this object lives (and released by the
/// kernel if the process dies). On Linux it is flock(2) called directly, so it holds even where .NET's own
/// FileShare locking is switched off (DOTNET_SYSTEM_IO_DISABLEFILELOCKING); elsewhere FileShare.None.</summary>
internal sealed class OwnerLock : IDisposable
{
    private readonly int _fd = -1;
    private readonly FileStream? _stream;

    private OwnerLock(int fd) => _fd = fd;

    private OwnerLock(FileStream stream) => _stream = stream;

    public enum Outcome
    {
        Acquired,
        HeldByAnother,
        Missing,
    }

    /// <summary>Creates <paramref name="path"/> (it must not exist) and locks it.</summary>
    public static OwnerLock Create(string path)
    {
        if (!OperatingSystem.IsLinux())
            return new OwnerLock(new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None));
        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC, Convert.ToInt32("644", 8));
        if (fd < 0) throw IoErrors.FromErrno(LibC.Errno, $"create lock file {path}");
        if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) != 0)
        {
            var errno = LibC.Errno;
            LibC.Close(fd);
            throw IoErrors.FromErrno(errno, $"lock {path}");
        }
        return new OwnerLock(fd);
    }

    /// <summary>Tries to lock an existing file without waiting.</summary>
    public static Outcome TryTake(string path, out OwnerLock? taken)
    {
        taken = null;
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                taken = new OwnerLock(new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None));
                return Outcome.Acquired;
            }
            catch (FileNotFoundException) { return Outcome.Missing; }
            catch (IOException) { return Outcome.HeldByAnother; }
        }
        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0)
            return LibC.Errno == LibC.ENOENT ? Outcome.Missing : Outcome.HeldByAnother;
        if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) != 0)
        {
            LibC.Close(fd);
            return Outcome.HeldByAnother;
        }
        taken = new OwnerLock(fd);
        return Outcome.Acquired;
    }

    public void Dispose()
    {
        if (_fd >= 0) LibC.Close(_fd);
        _stream?.Dispose();
    }
}
