using System.Runtime.InteropServices;

namespace Vib3.Storage.Device;

/// <summary>
/// The handful of Linux libc calls .NET does not expose: O_DIRECT open, positional I/O on raw
/// fds, fadvise and mincore. x86_64/arm64 Linux constants only; callers check OperatingSystem.IsLinux().
/// </summary>
internal static unsafe partial class LibC
{
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_CLOEXEC = 0x80000;
    public const int O_DIRECTORY = 0x10000;
    // O_DIRECT differs per architecture: 0x4000 on x86_64, 0x10000 on arm64.
    public static int O_DIRECT => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x10000 : 0x4000;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EWOULDBLOCK = 11;
    public const int O_EXCL = 0x80;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    public const int POSIX_FADV_RANDOM = 1;
    public const int POSIX_FADV_DONTNEED = 4;
    public const int PROT_READ = 1;
    public const int MAP_SHARED = 1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, void* buf, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint PWrite(int fd, void* buf, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(int fd);

    // Returns the error number directly (not via errno).
    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    public static partial int PosixFadvise(int fd, long offset, long len, int advice);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint addr, nuint length);

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    public static partial int Mincore(nint addr, nuint length, byte* vec);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
