using Vib3.Storage.Tracing;

namespace Vib3.Storage;

/// <summary>How a <see cref="PageStore"/> uses RAM and the disk.</summary>
public sealed class PageStoreOptions
{
    /// <summary>
    /// Host RAM for this model's pages when it has no <see cref="Pool"/>: the page cache (T2), native memory outside
    /// the .NET heap; each cached page costs its buffer (<see cref="PageStore.PageCharge"/>).
    /// The OS page cache is kept out of it by <see cref="DirectIo"/>.
    /// </summary>
    public long RamBudgetBytes { get; set; } = 2L << 30;

    /// <summary>A budget shared with the other stores opened with it (the engine's); null: the store gets a pool of
    /// its own of <see cref="RamBudgetBytes"/> under <see cref="EvictionPolicy"/> / <see cref="CachePolicy"/>. With a
    /// pool those three are the pool's business and ignored here.</summary>
    public PagePool? Pool { get; set; }

    /// <summary>
    /// Read segments with O_DIRECT (Linux) so the OS page cache is not a hidden tier under the
    /// budget. False uses FASTER's ManagedLocalStorageDevice (buffered), for comparison.
    /// </summary>
    public bool DirectIo { get; set; } = true;

    /// <summary>Disk reads outstanding at once (also the number of I/O threads).</summary>
    public int ReadsInFlight { get; set; } = 16;

    /// <summary>Opens the device the store reads its log through: <see cref="StoreDevices.Default"/> unless a caller
    /// decorates it (a slow or gated device) or opens segment files its own way.</summary>
    public IStoreDevices Devices { get; set; } = StoreDevices.Default;

    /// <summary>Told of every read that missed the cache, before it looks for a load to join; null (the default)
    /// tells no one. See <see cref="IPageMissObserver"/>.</summary>
    public IPageMissObserver? MissObserver { get; set; }

    /// <summary>Eviction policy for the page cache; null means a fresh one of <see cref="CachePolicy"/>.</summary>
    public IEvictionPolicy? EvictionPolicy { get; set; }

    /// <summary>The policy by name, used when <see cref="EvictionPolicy"/> is null. LFRU by default: on every model
    /// measured so far it read fewer bytes per token than LRU at every budget below the model's size (LRU loses the
    /// dense pages' per-token loop entirely once a token's pages do not fit; vib3-bench policies, vib3 bench
    /// --cache-policy). LRU remains for comparison.</summary>
    public CachePolicy CachePolicy { get; set; } = CachePolicy.Lfru;

    /// <summary>Where to record every read (page, hit or miss), for offline policy comparison; null records nothing.</summary>
    public PageTraceWriter? Trace { get; set; }
}
