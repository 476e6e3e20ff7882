using Vib3.Storage.Device;

namespace Vib3.Storage.Tests;

/// <summary>Opens segment files like production, except that O_DIRECT is refused with EINVAL, as tmpfs before
/// Linux 6.6 and some overlay and FUSE file systems refuse it: the device's buffered fallback then runs for real.</summary>
public sealed class RefusingDirectIoOpener : ISegmentOpener
{
    private const int EINVAL = 22; // Linux errno

    public static StoreDevices Devices { get; } = new(new RefusingDirectIoOpener());

    public int Open(string path, bool readOnly, bool direct) =>
        direct ? -EINVAL : PosixSegmentOpener.Instance.Open(path, readOnly, direct: false);
}
