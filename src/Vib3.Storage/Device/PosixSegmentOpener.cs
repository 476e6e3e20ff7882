namespace Vib3.Storage.Device;

/// <summary>Opens segment files with open(2): close-on-exec, mode 0644 when created.</summary>
public sealed class PosixSegmentOpener : ISegmentOpener
{
    public static PosixSegmentOpener Instance { get; } = new();

    private PosixSegmentOpener() { }

    public int Open(string path, bool readOnly, bool direct)
    {
        int flags = (readOnly ? LibC.O_RDONLY : LibC.O_RDWR | LibC.O_CREAT) | LibC.O_CLOEXEC;
        if (direct) flags |= LibC.O_DIRECT;
        int fd = LibC.Open(path, flags, 0b110_100_100);
        return fd >= 0 ? fd : -LibC.Errno;
    }
}
