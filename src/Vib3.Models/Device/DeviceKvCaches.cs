using ILGPU;
using ILGPU.Runtime;
using Vib3.Models.Inference;

namespace Vib3.Models.Device;

/// <summary>A model's sequences' KV caches in VRAM, where attention runs over them. Each is a mirror of a
/// <see cref="KvCache"/> in RAM, which stays whole and is what the CPU attends over when the device fails or has no room
/// for a sequence: the mirror holds the same rows in the same type (f32 or f16 bits), copied up from RAM as far as a
/// step needs them (with the step's other inputs, in one copy), and copies again the rows RAM rewrote (a failed step's,
/// a shared prefix). Its memory comes from the engine-wide budget before any expert cache's, as a dense matrix's does
/// (<see cref="DeviceTier.TryReserveDense"/>);
/// when the budget is short, the mirrors of sequences the running step does not use give theirs up, least recently used
/// first. A mirror grows as its cache does (doubling) and starts empty again when it grows (RAM has every row); it is
/// freed when its sequence ends (<see cref="Release"/>), or at the next step once no one holds its cache. Used by the
/// pass's one caller at a time.</summary>
public sealed class DeviceKvCaches(DeviceTier tier) : IDisposable
{
    private const int FirstPositions = 64;
    private readonly List<Mirror> _mirrors = []; // least recently used first
    private long _step;
    private int _count;  // the mirrors' number and bytes, for readers on other threads (statistics)
    private long _bytes;

    /// <summary>Sequences whose caches are in VRAM now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Device memory the mirrors take.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Starts a step: frees the mirrors of caches that are gone. Mirrors used from here on are this step's,
    /// never given up to make room for another in it.</summary>
    public void BeginStep()
    {
        _step++;
        tier.Device.BindToThread();
        for (var i = _mirrors.Count - 1; i >= 0; i--)
            if (!_mirrors[i].Cache.TryGetTarget(out _))
                Drop(i);
    }

    /// <summary><paramref name="cache"/>'s mirror with room for its first <paramref name="positions"/> positions, or
    /// null when the budget has no room for it (then the CPU attends for the sequence). The caller fills the rows it
    /// lacks (<see cref="Mirror.Missing"/>, <see cref="Mirror.Store"/>).</summary>
    internal Mirror? For(KvCache cache, int positions)
    {
        var at = _mirrors.FindIndex(m => m.Cache.TryGetTarget(out var c) && c == cache);
        var mirror = at < 0 ? null : _mirrors[at];
        var outgrown = 0;
        if (mirror is not null && mirror.Positions < positions)
        {
            outgrown = mirror.Positions;
            Drop(at); // grown anew (RAM has every row): no second copy held while the first is copied across
            mirror = null;
        }
        if (mirror is null)
        {
            if (cache.Mirror is not null) return null; // another pass's (a cache runs in one model's steps)
            mirror = Open(cache, (int)Math.Min(cache.Capacity, Math.Max(positions, Math.Max(FirstPositions, 2L * outgrown))));
            if (mirror is null) return null;
        }
        else _mirrors.RemoveAt(at);
        _mirrors.Add(mirror); // most recently used last
        mirror.LastStep = _step;
        return mirror;
    }

    /// <summary>Frees <paramref name="cache"/>'s mirror now (its sequence is done) rather than when the cache is
    /// collected; nothing when it has none.</summary>
    public void Release(KvCache cache)
    {
        var at = _mirrors.FindIndex(m => m.Cache.TryGetTarget(out var c) && c == cache);
        if (at < 0) return;
        tier.Device.BindToThread();
        Drop(at);
    }

    private Mirror? Open(KvCache cache, int positions)
    {
        var bytes = Mirror.SizeBytes(cache, positions);
        while (!tier.TryReserveDense(bytes))
        {
            var victim = _mirrors.FindIndex(m => m.LastStep != _step);
            if (victim < 0) return null;
            Drop(victim);
        }
        try
        {
            var mirror = new Mirror(tier, cache, positions, bytes);
            cache.Mirror = mirror;
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _bytes, bytes);
            return mirror;
        }
        catch
        {
            tier.Release(bytes);
            throw;
        }
    }

    private void Drop(int at)
    {
        var mirror = _mirrors[at];
        _mirrors.RemoveAt(at);
        if (mirror.Cache.TryGetTarget(out var cache) && cache.Mirror == mirror) cache.Mirror = null;
        mirror.Dispose();
        tier.Release(mirror.Bytes);
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -mirror.Bytes);
    }

    public void Dispose()
    {
        while (_mirrors.Count > 0) Drop(_mirrors.Count - 1);
    }

    /// <summary>One sequence's keys and values on the device, K and V each [layers, Positions, width] in the cache's
    /// type (held as bytes: f32 or f16 bits); rows [0, valid[l]) of layer l equal RAM's.</summary>
    internal sealed class Mirror : IKvCacheMirror, IDisposable
    {
        private readonly MemoryBuffer1D<byte, Stride1D.Dense> _keys, _values;
        private readonly int[] _valid;
        private readonly int _keyBytes, _valueBytes; // one position's key and value, in bytes

        public Mirror(DeviceTier tier, KvCache cache, int positions, long bytes)
        {
            Cache = new WeakReference<KvCache>(cache);
            Positions = positions;
            Bytes = bytes;
            F16 = cache.Type == KvCacheType.F16;
            var element = F16 ? 2 : sizeof(float);
            (_keyBytes, _valueBytes) = (cache.KvDim * element, cache.ValueDim * element);
            _valid = new int[cache.Layers];
            _keys = tier.Device.Accelerator.Allocate1D<byte>((long)cache.Layers * positions * _keyBytes);
            try
            {
                _values = tier.Device.Accelerator.Allocate1D<byte>(Math.Max(1, (long)cache.Layers * positions * _valueBytes));
            }
            catch
            {
                _keys.Dispose();
                throw;
            }
        }

        public static long SizeBytes(KvCache cache, int positions) =>
            (long)cache.Layers * positions * (cache.KvDim + cache.ValueDim) * (cache.Type == KvCacheType.F16 ? 2 : sizeof(float));

        public WeakReference<KvCache> Cache { get; }

        /// <summary>Positions each layer has room for.</summary>
        public int Positions { get; }

        public long Bytes { get; }

        /// <summary>Whether the rows are f16 bits (<see cref="Keys16"/>) rather than f32 (<see cref="Keys32"/>).</summary>
        public bool F16 { get; }

        public long LastStep { get; set; }

        public void Changed(int layer, int position) => _valid[layer] = Math.Min(_valid[layer], position);

        /// <summary>The rows of <paramref name="layer"/> below <paramref name="positions"/> that RAM holds and the mirror
        /// does not (yet, or any more): [From, From + Count).</summary>
        public (int From, int Count) Missing(int layer, int positions) =>
            _valid[layer] >= positions ? (positions, 0) : (_valid[layer], positions - _valid[layer]);

        /// <summary>Stores rows [from, from + count) of <paramref name="layer"/>, as RAM holds them (<see cref="KvCache.StoredBytes"/>),
        /// from where they landed on the device; the layer's rows then equal RAM's up to from + count.</summary>
        public void Store(int layer, int from, int count, ArrayView<byte> keys, ArrayView<byte> values)
        {
            if (count == 0) return;
            keys.CopyTo(Layer(_keys, layer, _keyBytes).SubView((long)from * _keyBytes, (long)count * _keyBytes));
            if (_valueBytes > 0) values.CopyTo(Layer(_values, layer, _valueBytes).SubView((long)from * _valueBytes, (long)count * _valueBytes));
            _valid[layer] = from + count;
        }

        /// <summary>Layer <paramref name="layer"/>'s keys [positions, KvDim] as f32 (an f32 mirror).</summary>
        public ArrayView<float> Keys32(int layer, int positions) => Layer(_keys, layer, _keyBytes).SubView(0, (long)positions * _keyBytes).Cast<float>();

        public ArrayView<float> Values32(int layer, int positions) => Layer(_values, layer, _valueBytes).SubView(0, (long)positions * _valueBytes).Cast<float>();

        /// <summary>Layer <paramref name="layer"/>'s keys [positions, KvDim] as f16 bits (an f16 mirror).</summary>
        public ArrayView<ushort> Keys16(int layer, int positions) => Layer(_keys, layer, _keyBytes).SubView(0, (long)positions * _keyBytes).Cast<ushort>();

        public ArrayView<ushort> Values16(int layer, int positions) => Layer(_values, layer, _valueBytes).SubView(0, (long)positions * _valueBytes).Cast<ushort>();

        private ArrayView<byte> Layer(MemoryBuffer1D<byte, Stride1D.Dense> buffer, int layer, int rowBytes) =>
            ((ArrayView<byte>)buffer.View).SubView((long)layer * Positions * rowBytes, (long)Positions * rowBytes);

        public void Dispose()
        {
            _keys.Dispose();
            _values.Dispose();
        }
    }
}
