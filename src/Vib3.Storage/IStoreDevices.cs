using FASTER.core;

namespace Vib3.Storage;

/// <summary>
/// Opens the FASTER device a store's log segments are read and written through. Production uses
/// <see cref="StoreDevices.Default"/>; a decorator around it can slow or hold reads (every page read from disk goes
/// through the device's ReadAsync), so races in the read path are tested against the real store.
/// <see cref="PageStore.IsDirectIo"/> asks the <see cref="Device.DirectFileDevice"/> itself, so a store over a
/// decorator reports buffered reads.
/// </summary>
public interface IStoreDevices
{
    /// <param name="logDir">The store's log folder; segments are "pages.log.N" in it.</param>
    /// <param name="direct">Read around the OS page cache (O_DIRECT) where the platform allows it.</param>
    /// <param name="readOnly">Open existing segments only.</param>
    /// <param name="ioThreads">Transfers that may be outstanding at once.</param>
    IDevice Open(string logDir, bool direct, bool readOnly, int ioThreads);
}
