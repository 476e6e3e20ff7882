using Vib3.Storage;

namespace Vib3.Engine;

/// <param name="DataDir">Where the catalog lives.</param>
/// <param name="RamBudgetBytes">RAM for pages, engine-wide: shared by every open model (one page cache, one eviction
/// policy), so the page memory of all of them together never exceeds it.</param>
public sealed record EngineOptions(string DataDir, long RamBudgetBytes)
{
    /// <summary>Sequences one model runs together in its continuous batch (1..64).</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>Sequences that may wait for a place in the batch; beyond it requests are refused (53000).</summary>
    public int MaxQueue { get; init; } = 256;

    /// <summary>Eviction policy of the engine's page cache, over the pages of every open model (--cache-policy).</summary>
    public CachePolicy CachePolicy { get; init; } = CachePolicy.Lfru;

    /// <summary>Folders remote sessions may CREATE MODEL from (--import-dir); none by default, so remote clients
    /// import nothing. Local sessions may read any path.</summary>
    public IReadOnlyList<string> ImportDirs { get; init; } = [];

    /// <summary>Opens the devices open models read their pages through (<see cref="Storage.StoreDevices.Default"/>:
    /// O_DIRECT where the file system allows it, else buffered).</summary>
    public IStoreDevices StoreDevices { get; init; } = Storage.StoreDevices.Default;

    /// <summary>Element type of every sequence's KV cache (--kv-cache): f32, or f16 for half the memory.</summary>
    public Models.Inference.KvCacheType KvCache { get; init; } = Models.Inference.KvCacheType.F32;

    /// <summary>Most tokens (prompt and generated) a sequence may hold, below a model's own context (--context); null:
    /// each model's context. A sequence's KV cache is sized to its prompt plus its MAX_TOKENS within this.</summary>
    public int? MaxContext { get; init; }

    /// <summary>Which accelerator runs the products of the dense matrices that fit its budget (--accelerator); none: the
    /// CPU runs everything.</summary>
    public Vib3.Kernels.Gpu.AcceleratorChoice Accelerator { get; init; } = Vib3.Kernels.Gpu.AcceleratorChoice.None;

    /// <summary>Device memory for resident weights, engine-wide (--vram-budget); null: the device's memory less a
    /// headroom.</summary>
    public long? VramBudgetBytes { get; init; }

    /// <summary>Page traces to record, by model name: that model's store records every read to its writer and its
    /// scheduler marks each forward step (vib3 bench --trace).</summary>
    public IReadOnlyDictionary<string, Storage.Tracing.PageTraceWriter> PageTraces { get; init; } =
        new Dictionary<string, Storage.Tracing.PageTraceWriter>();
}
