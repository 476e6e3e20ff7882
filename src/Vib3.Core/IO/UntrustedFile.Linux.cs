using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vib3.Core.IO;

/// <summary>Linux: open(2) with O_NONBLOCK, so that opening a FIFO returns at once instead of waiting for a writer,
/// then statx(2) on the descriptor itself, so that what is checked is what was opened (no window in which the path
/// could be swapped for a FIFO or a device between a check and the open).</summary>
public static partial class UntrustedFile
{
    private const int ORdOnly = 0, ONoCtty = 0x100, ONonBlock = 0x800, OCloExec = 0x80000;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: mask, blksize (u32), attributes (u64), nlink, uid, gid (u32), mode (u16)
    private const int SIfMt = 0xF000, SIfReg = 0x8000, SIfDir = 0x4000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfIfo = 0x1000, SIfSock = 0xC000;
    private const int Enoent = 2, Enotdir = 20;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    private static unsafe SafeFileHandle OpenRegularLinux(string path)
    {
        var fd = Open(path, ORdOnly | ONoCtty | ONonBlock | OCloExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Enoent or Enotdir) throw Missing(path);
            throw Unreadable(path, Marshal.GetPInvokeErrorMessage(errno));
        }
        var statx = stackalloc byte[256];
        if (Statx(fd, "", AtEmptyPath, StatxType, statx) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Close(fd);
            throw Unreadable(path, Marshal.GetPInvokeErrorMessage(errno));
        }
        var type = *(ushort*)(statx + StatxModeOffset) & SIfMt;
        if (type != SIfReg)
        {
            Close(fd);
            throw NotRegular(path, type switch
            {
                SIfDir => "a directory",
                SIfIfo => "a FIFO",
                SIfChr or SIfBlk => "a device",
                SIfSock => "a socket",
                _ => "a special file",
            });
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
