using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;
using Vib3.Kernels.Gpu;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Device;

/// <summary>The VRAM expert cache: routed experts' bundle pages in fixed slots of device memory (what the budget holds
/// after the dense matrices), and the bundle FFN run there on the rows that chose them. Where a page of a step goes:
/// <list type="bullet">
/// <item>resident: it runs on the device (a VRAM hit);</item>
/// <item>not resident, and a slot is free, or <see cref="UploadRows"/> or more of the step's rows chose it (prefill, a
/// batch: the upload is paid back by the rows), or it missed once before (a page that recurs): uploaded, then run on
/// the device;</item>
/// <item>otherwise computed on the CPU from RAM: the rows' activations stay where they are and the page's bytes cross
/// no bus (the lesson of Fiddler and KTransformers: a decode row is a few KB, an expert megabytes).</item>
/// </list>
/// Victims are chosen by the RAM tier's expert-aware policy (<see cref="LfruEvictionPolicy"/>: decayed frequency,
/// near-ties most recent first), never among the pages the running step uses. The "missed once" set is the admission
/// filter (a doorkeeper): it holds at most a slot count of pages and is emptied when full, so a page admitted on its
/// second miss missed twice within about one cache's worth of misses.</summary>
/// <remarks>One step at a time (the forward pass runs its steps one by one); every launch and copy goes to the
/// accelerator's default stream, so a slot overwritten by an upload is never read by a kernel queued before it, and the
/// reused buffers (inputs, the FFN's scratch) are never overwritten under a queued kernel.
/// The slots come in up to 16 chunks, each its own allocation, so that the cache can give memory back: dense matrices
/// come first engine-wide, and a model opened later whose dense matrices do not fit takes chunks back from the caches
/// of the models already open (<see cref="Reclaim"/>, through <see cref="DeviceTier.TryReserveDense"/>). A chunk goes
/// back only when no page of the running step is in it; its pages are evicted. The cache's methods hold its lock, so a
/// reclaim from another model's open never interleaves with a step's placement, launches or copies.</remarks>
public sealed class DeviceExperts : IDisposable
{
    /// <summary>Rows of a step on one missed page from which it is uploaded rather than computed on the CPU.</summary>
    public const int UploadRows = 4;

    /// <summary>The most chunks the slots come in.</summary>
    public const int MaxChunks = 16;

    private readonly object _gate = new();
    private readonly DeviceTier _tier;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense>?[] _chunks; // [ChunkSlots, SlotBytes] each, one bundle page a slot, as stored; null: given back
    private readonly int _chunkSlots;                              // slots per chunk (the last may hold fewer)
    private readonly int _allSlots;                                // slots before any chunk was given back
    private readonly Dictionary<int, int> _slotOf = [];            // page → slot
    private readonly Dictionary<int, int> _layerOf = [];           // resident page → its layer (for the victims' counts)
    private readonly DeviceExpertCounts[] _byLayer;                // Counts, per layer
    private readonly Stack<int> _free = new();
    private readonly LfruEvictionPolicy _policy;
    private readonly HashSet<int> _missedOnce = [];
    private readonly HashSet<int> _inUse = [];                     // pages the running step runs on the device
    private readonly GpuBundleFfn _ffn;
    private readonly GpuMatVecInput _input;                        // [rows of one page, dim]
    private MemoryBuffer1D<float, Stride1D.Dense> _output;         // [rows of the step's device pages, dim]
    private float[] _host = [];                                    // _output's copy in RAM
    private float[] _gathered = [];                                // [rows of one page, dim]: its rows' inputs, side by side
    private bool _loneRowSet;                                      // this step's one row is in _input already

    private DeviceExperts(DeviceTier tier, long slotBytes, int slots, long expertPages, int maxBundleRows, int dim, int maxRows, int layers)
    {
        _byLayer = new DeviceExpertCounts[layers];
        _tier = tier;
        Pages = expertPages;
        SlotBytes = slotBytes;
        _allSlots = slots;
        _chunkSlots = (slots + MaxChunks - 1) / MaxChunks;
        var a = tier.Device.Accelerator;
        _chunks = new MemoryBuffer1D<byte, Stride1D.Dense>?[(slots + _chunkSlots - 1) / _chunkSlots];
        try
        {
            for (var c = 0; c < _chunks.Length; c++) _chunks[c] = a.Allocate1D<byte>(slotBytes * SlotsIn(c));
        }
        catch
        {
            foreach (var chunk in _chunks) chunk?.Dispose();
            throw;
        }
        for (var s = slots - 1; s >= 0; s--) _free.Push(s);
        _policy = new LfruEvictionPolicy(null, Math.Max(1024, expertPages));
        _ffn = new GpuBundleFfn(tier.Device, maxBundleRows, maxRows);
        _input = new GpuMatVecInput(tier.Device, dim, maxRows);
        _output = a.Allocate1D<float>((long)maxRows * dim);
        Dim = dim;
    }

    /// <summary>Bytes of one slot: the model's largest bundle page.</summary>
    public long SlotBytes { get; }

    /// <summary>Slots held now (fewer once chunks were given back).</summary>
    public int Slots
    {
        get { lock (_gate) return Enumerable.Range(0, _chunks.Length).Where(c => _chunks[c] is not null).Sum(SlotsIn); }
    }

    private int SlotsIn(int chunk) => Math.Min(_chunkSlots, _allSlots - chunk * _chunkSlots);

    /// <summary>The pages it could hold: every routed expert page the device runs.</summary>
    public long Pages { get; }

    /// <summary>The budget the cache holds: its slots.</summary>
    public long ReservedBytes => Slots * SlotBytes;

    public int Dim { get; }

    /// <summary>Pages resident now.</summary>
    public int Resident
    {
        get { lock (_gate) return _slotOf.Count; }
    }

    /// <summary>Since the model opened: pages run on the device that were resident, pages uploaded, pages computed on
    /// the CPU instead, pages evicted.</summary>
    public DeviceExpertCounts Counts
    {
        get { lock (_gate) return _counts; }
    }

    private DeviceExpertCounts _counts;

    /// <summary><see cref="Counts"/> of layer <paramref name="layer"/>'s pages (zero for a layer without experts).</summary>
    public DeviceExpertCounts CountsOf(int layer)
    {
        lock (_gate) return layer < _byLayer.Length ? _byLayer[layer] : default;
    }

    private void Count(int layer, DeviceExpertCounts counts)
    {
        _counts += counts;
        _byLayer[layer] += counts;
    }

    /// <summary>A cache over <paramref name="grids"/>' pages whose device kernels exist, taking what the budget has left
    /// (at most every such page); null when no grid runs on the device or not one slot fits.</summary>
    public static DeviceExperts? Open(DeviceTier tier, IReadOnlyList<ExpertGridEntry> grids, int maxRows)
    {
        var usable = grids.Where(Runs).ToList();
        if (usable.Count == 0) return null;
        var slotBytes = usable.Max(g => g.BundleBytes(g.RowsInBundle(0)));
        var pages = usable.Sum(g => (long)g.Experts * g.BundlesPerExpert);
        var slots = (int)Math.Min(Math.Min(pages, (tier.BudgetBytes - tier.UsedBytes) / slotBytes), int.MaxValue);
        if (slots <= 0 || !tier.TryReserve(slots * slotBytes)) return null;
        try
        {
            var cache = new DeviceExperts(tier, slotBytes, slots, pages, usable.Max(g => g.BundleRows), usable[0].Dim, maxRows, grids.Max(g => g.Layer) + 1);
            tier.Register(cache);
            return cache;
        }
        catch
        {
            tier.Release(slots * slotBytes);
            throw;
        }
    }

    /// <summary>Whether <paramref name="grid"/>'s pages can run on the device (kernels for its types).</summary>
    public static bool Runs(ExpertGridEntry grid) => GpuMatVec.Supports(grid.GateUpType()) && GpuMatVec.Supports(grid.DownType());

    /// <summary>Where <paramref name="page"/> of <paramref name="layer"/>, chosen by <paramref name="rows"/> of the step, runs (see the class
    /// summary); counts the access for the eviction policy. Uploading pages get their slot here (its victim evicted):
    /// the caller copies the bytes in with <see cref="Upload"/> before running it.</summary>
    public ExpertPlace Place(int layer, int page, int rows)
    {
        lock (_gate) return PlaceLocked(layer, page, rows);
    }

    private ExpertPlace PlaceLocked(int layer, int page, int rows)
    {
        _policy.Accessed(page);
        if (_slotOf.ContainsKey(page))
        {
            Take(page);
            Count(layer, new DeviceExpertCounts(1, 0, 0, 0));
            return ExpertPlace.Vram;
        }
        var admit = _free.Count > 0 || rows >= UploadRows || _missedOnce.Remove(page);
        if (admit && (_free.Count > 0 || Evict()))
        {
            _slotOf[page] = _free.Pop();
            _layerOf[page] = layer;
            Take(page);
            Count(layer, new DeviceExpertCounts(0, 1, 0, 0));
            return ExpertPlace.Upload;
        }
        if (_missedOnce.Count >= _allSlots) _missedOnce.Clear();
        _missedOnce.Add(page);
        Count(layer, new DeviceExpertCounts(0, 0, 1, 0));
        return ExpertPlace.Cpu;
    }

    private void Take(int page)
    {
        _policy.Remove(page); // not a victim while the step uses it
        _inUse.Add(page);
    }

    private bool Evict()
    {
        if (!_policy.TryTakeVictim(out var victim)) return false; // every resident page is in this step's use
        _slotOf.Remove(victim, out var slot);
        _layerOf.Remove(victim, out var layer);
        _free.Push(slot);
        Count(layer, new DeviceExpertCounts(0, 0, 0, 1));
        return true;
    }

    /// <summary>Copies <paramref name="stored"/>, the bytes of a page <see cref="Place"/> gave a slot to upload, into it.</summary>
    public void Upload(int page, ReadOnlySpan<byte> stored)
    {
        if (stored.Length > SlotBytes) throw new ArgumentException($"page {page}: {stored.Length} bytes, a slot holds {SlotBytes}");
        lock (_gate)
        {
            _tier.Device.BindToThread();
            Slot(page).SubView(0, stored.Length).CopyFromCPU(stored);
        }
    }

    private ArrayView<byte> Slot(int page)
    {
        var slot = _slotOf[page];
        return ((ArrayView<byte>)_chunks[slot / _chunkSlots]!.View).SubView(slot % _chunkSlots * SlotBytes, SlotBytes);
    }

    /// <summary>Makes room on the device for the step's outputs: <paramref name="rows"/> rows in all over its device pages.</summary>
    public void BeginStep(int rows)
    {
        lock (_gate)
        {
            _tier.Device.BindToThread();
            _loneRowSet = false;
            if ((long)rows * Dim <= _output.Length) return;
            _output.Dispose();
            _output = _tier.Device.Accelerator.Allocate1D<float>((long)rows * Dim);
        }
    }

    /// <summary>Queues the bundle FFN of resident <paramref name="page"/> (<paramref name="r"/> rows, in
    /// <paramref name="grid"/>'s types) on the inputs of <paramref name="rows"/> (rows of <paramref name="xb"/>
    /// [n, dim]), writing its [rows, dim] contribution at row <paramref name="at"/> of the step's outputs.
    /// <paramref name="lone"/>: the step's only row, which goes up (with its quantised forms) once for all its pages.</summary>
    public void Run(ExpertGridEntry grid, int page, int r, ReadOnlySpan<float> xb, IReadOnlyList<(int Row, float Weight)> rows, int at, bool lone)
    {
        var m = rows.Count;
        lock (_gate)
        {
            _tier.Device.BindToThread();
            if (!(lone && _loneRowSet))
            {
                if (_gathered.Length < m * Dim) _gathered = new float[m * Dim];
                for (var t = 0; t < m; t++) xb.Slice(rows[t].Row * Dim, Dim).CopyTo(_gathered.AsSpan(t * Dim, Dim));
                _input.Set(_gathered.AsSpan(0, m * Dim), m);
                _loneRowSet = lone;
            }
            var bytes = Slot(page).SubView(0, grid.BundleBytes(r));
            _ffn.Run(grid.GateUpType(), grid.DownType(), bytes, r, Dim, _input, ((ArrayView<float>)_output.View).SubView((long)at * Dim, (long)m * Dim));
        }
    }

    /// <summary>Waits for the step's device work and returns its outputs [rows, dim] (a buffer reused by the next
    /// step); then, its kernels done, the pages it used may be evicted or given back again.</summary>
    public ReadOnlyMemory<float> EndStep(int rows)
    {
        lock (_gate)
        {
            _tier.Device.BindToThread();
            if (_host.Length < rows * Dim) _host = new float[rows * Dim];
            var values = ((ArrayView<float>)_output.View).SubView(0, (long)rows * Dim);
            values.CopyToCPU(_host.AsSpan(0, rows * Dim));
            ReleaseInUse();
            return _host.AsMemory(0, rows * Dim);
        }
    }

    /// <summary>The pages the step used become victims again (also when the step failed: the device is then given up
    /// and nothing queued on it is read).</summary>
    public void ReleaseInUse()
    {
        lock (_gate)
        {
            foreach (var page in _inUse)
                if (_slotOf.ContainsKey(page)) _policy.Add(page);
            _inUse.Clear();
        }
    }

    /// <summary>Gives chunks back until <paramref name="bytes"/> are freed or no chunk is free of the running step's
    /// pages, last chunk first; their pages are evicted and their bytes returned to the budget. Returns the bytes
    /// freed.</summary>
    public long Reclaim(long bytes)
    {
        lock (_gate)
        {
            _tier.Device.BindToThread();
            var freed = 0L;
            for (var c = _chunks.Length - 1; c >= 0 && freed < bytes; c--)
            {
                if (_chunks[c] is not { } chunk || _inUse.Any(page => _slotOf[page] / _chunkSlots == c)) continue;
                foreach (var page in _slotOf.Where(x => x.Value / _chunkSlots == c).Select(x => x.Key).ToList())
                {
                    _slotOf.Remove(page);
                    _layerOf.Remove(page, out var layer);
                    _policy.Remove(page);
                    Count(layer, new DeviceExpertCounts(0, 0, 0, 1));
                }
                var kept = _free.Where(slot => slot / _chunkSlots != c).Reverse().ToList();
                _free.Clear();
                foreach (var slot in kept) _free.Push(slot);
                chunk.Dispose();
                _chunks[c] = null;
                var size = SlotsIn(c) * SlotBytes;
                _tier.Release(size);
                freed += size;
            }
            return freed;
        }
    }

    public void Dispose()
    {
        _tier.Unregister(this);
        lock (_gate)
        {
            _tier.Device.BindToThread();
            var held = ReservedBytes;
            foreach (var chunk in _chunks) chunk?.Dispose();
            _ffn.Dispose();
            _input.Dispose();
            _output.Dispose();
            _tier.Release(held);
        }
    }
}

/// <summary>Where an expert bundle page of a step runs.</summary>
public enum ExpertPlace
{
    /// <summary>On the CPU, from RAM.</summary>
    Cpu,

    /// <summary>On the device, where it was resident.</summary>
    Vram,

    /// <summary>Uploaded to the device, then run there.</summary>
    Upload,
}

/// <summary>The expert cache's work: pages run where resident (hits), uploaded, computed on the CPU, evicted.</summary>
public readonly record struct DeviceExpertCounts(long Hits, long Uploads, long CpuPages, long Evictions)
{
    public static DeviceExpertCounts operator +(DeviceExpertCounts a, DeviceExpertCounts b) =>
        new(a.Hits + b.Hits, a.Uploads + b.Uploads, a.CpuPages + b.CpuPages, a.Evictions + b.Evictions);

    public static DeviceExpertCounts operator -(DeviceExpertCounts a, DeviceExpertCounts b) =>
        new(a.Hits - b.Hits, a.Uploads - b.Uploads, a.CpuPages - b.CpuPages, a.Evictions - b.Evictions);
}
