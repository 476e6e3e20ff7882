using Vib3.Core;

namespace Vib3.Storage;

/// <summary>Maps OS and FASTER I/O failures onto the SQLSTATEs users see.</summary>
internal static class IoErrors
{
    private const int ENOSPC = 28;
    // Windows ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL.
    private const int WinDiskFull = 112, WinHandleDiskFull = 39;

    public static bool IsDiskFull(int code) => code is ENOSPC or WinDiskFull or WinHandleDiskFull;

    public static bool IsDiskFull(Exception e)
    {
        for (Exception? x = e; x != null; x = x.InnerException)
        {
            if (x is IOException && IsDiskFull(x.HResult & 0xFFFF)) return true;
            if (x.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)) return true;
            if (x is FASTER.core.CommitFailureException cf && IsDiskFull((int)cf.LinkedCommitInfo.CommitInfo.ErrorCode)) return true;
        }
        return false;
    }

    /// <summary>A failure while writing <paramref name="path"/>: DiskFull when the disk is full, else IoError.</summary>
    public static Vib3Exception Writing(string path, Exception e) => IsDiskFull(e)
        ? new Vib3Exception(SqlState.DiskFull, $"disk full writing {path}: {e.Message}", e)
        : new Vib3Exception(SqlState.IoError, $"i/o error writing {path}: {e.Message}", e);

    public static Vib3Exception FromErrno(int errno, string what) => IsDiskFull(errno)
        ? new Vib3Exception(SqlState.DiskFull, $"disk full: {what}: {Device.LibC.Describe(errno)}")
        : new Vib3Exception(SqlState.IoError, $"{what} failed: {Device.LibC.Describe(errno)}");

    /// <summary>An IOException carrying errno in HResult, so FASTER and our callers can classify it.</summary>
    public static IOException FromErrnoIo(int errno, string what) =>
        new($"{what} failed: {Device.LibC.Describe(errno)}", errno);
}
