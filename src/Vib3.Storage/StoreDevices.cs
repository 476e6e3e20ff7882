using FASTER.core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>Chooses the FASTER device for a store's log segments.</summary>
/// <param name="opener">Opens the O_DIRECT device's segment files (open(2) in <see cref="Default"/>).</param>
public sealed class StoreDevices(ISegmentOpener opener) : IStoreDevices
{
    /// <summary>The devices every store uses unless told otherwise: segment files opened with open(2).</summary>
    public static StoreDevices Default { get; } = new(PosixSegmentOpener.Instance);

    /// <summary>
    /// O_DIRECT <see cref="DirectFileDevice"/> on Linux when <paramref name="direct"/>; otherwise (or
    /// off Linux) FASTER's ManagedLocalStorageDevice, which reads through the OS page cache.
    /// Both name segment files "log/pages.log.N", so either can read what the other wrote.
    /// </summary>
    public IDevice Open(string logDir, bool direct, bool readOnly, int ioThreads)
    {
        string baseName = Path.Combine(logDir, LogLayout.SegmentBaseName);
        if (direct && OperatingSystem.IsLinux())
            return new DirectFileDevice(baseName, readOnly, ioThreads, opener);
        return new ManagedLocalStorageDevice(baseName, recoverDevice: readOnly);
    }
}
