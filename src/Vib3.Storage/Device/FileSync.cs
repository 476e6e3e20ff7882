namespace Vib3.Storage.Device;

/// <summary>Durability helpers: fsync files and the directories that name them.</summary>
internal static class FileSync
{
    /// <summary>fsync a file through .NET (works on every OS).</summary>
    public static void FsyncFile(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// fsync a directory so newly created file names survive a crash. Only Linux needs and allows
    /// this; elsewhere it is a no-op.
    /// </summary>
    public static void FsyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = LibC.Open(dir, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw IoErrors.FromErrno(LibC.Errno, $"open directory {dir}");
        try
        {
            if (LibC.FSync(fd) != 0) throw IoErrors.FromErrno(LibC.Errno, $"fsync directory {dir}");
        }
        finally { LibC.Close(fd); }
    }
}
