using FASTER.core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>Chooses the FASTER device for a store's log segments.</summary>
internal static class StoreDevices
{
    /// <summary>
    /// O_DIRECT <see cref="DirectFileDevice"/> on Linux when <paramref name="direct"/>; otherwise (or
    /// off Linux) FASTER's ManagedLocalStorageDevice, which reads through the OS page cache.
    /// Both name segment files "log/pages.log.N", so either can read what the other wrote.
    /// </summary>
    public static IDevice Create(string logDir, bool direct, bool readOnly, int ioThreads, bool forceFallback = false)
    {
        string baseName = Path.Combine(logDir, LogLayout.SegmentBaseName);
        if (direct && OperatingSystem.IsLinux())
            return new DirectFileDevice(baseName, readOnly, ioThreads, tryDirect: !forceFallback);
        return new ManagedLocalStorageDevice(baseName, recoverDevice: readOnly);
    }
}
