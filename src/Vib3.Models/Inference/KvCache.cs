using Vib3.Core;
using Vib3.Kernels;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Element type of the KV cache: f32 (exact) or f16 (half the memory, llama.cpp's default).</summary>
public enum KvCacheType
{
    F32,
    F16,
}

/// <summary>Keys and values of one sequence, per layer: K[l] is [Capacity, KvDim] and V[l] [Capacity, ValueDim], row p
/// holding position p (keys after RoPE). A latent cache (multi-head latent attention) has no values: each key row is
/// the compressed latent and the shared rope key, [kv_lora_rank + rope dims], from which every head's key and value
/// are recovered. Memory grows with use (doubling, up to the capacity), so a sequence that may run to a long context
/// but stops early never holds the whole context's worth.</summary>
public sealed class KvCache
{
    private const int FirstPositions = 64;
    private readonly float[][]? _k32; // [layers][allocated · kvDim]
    private readonly float[][]? _v32; // [layers][allocated · valueDim]
    private readonly Half[][]? _k16;  // [layers][allocated · kvDim]
    private readonly Half[][]? _v16;  // [layers][allocated · valueDim]
    private readonly int _layers;
    private int _allocated;           // positions each layer's arrays hold

    /// <param name="valueDim">Width of a value row; null: the key width (ordinary attention); 0: a latent cache.</param>
    public KvCache(int layers, int kvDim, int capacity, KvCacheType type = KvCacheType.F32, int? valueDim = null)
    {
        if (capacity < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"context length must be positive, not {capacity}");
        KvDim = kvDim;
        ValueDim = valueDim ?? kvDim;
        Capacity = capacity;
        Type = type;
        _layers = layers;
        if (type == KvCacheType.F32)
        {
            _k32 = new float[layers][];
            _v32 = new float[layers][];
        }
        else
        {
            _k16 = new Half[layers][];
            _v16 = new Half[layers][];
        }
    }

    /// <summary>The cache a model's attention needs: latents for multi-head latent attention, else keys and values.</summary>
    public static KvCache For(HyperParameters h, int capacity, KvCacheType type = KvCacheType.F32) =>
        h.KvLoraRank > 0
            ? new KvCache(h.Layers, h.KvLoraRank + h.QkRopeHeadDim, capacity, type, valueDim: 0)
            : new KvCache(h.Layers, h.KvHeads * h.HeadDim, capacity, type);

    /// <summary>Bytes the cache would hold at full capacity.</summary>
    public long Bytes => (long)_layers * Capacity * (KvDim + ValueDim) * ElementBytes;

    /// <summary>Bytes held now.</summary>
    public long AllocatedBytes => (long)_layers * _allocated * (KvDim + ValueDim) * ElementBytes;

    private int ElementBytes => Type == KvCacheType.F32 ? sizeof(float) : 2;

    /// <summary>Makes room for positions [0, positions): FirstPositions at the first write, then doubling. Nothing is
    /// allocated before the first write, so opening a session costs nothing whatever the context length.</summary>
    private void EnsureAllocated(int positions)
    {
        if (positions <= _allocated) return;
        Grow((int)Math.Min(Capacity, Math.Max(Math.Max(positions, FirstPositions), 2L * _allocated)));
    }

    private void Grow(int positions)
    {
        var (keys, values) = ((long)positions * KvDim, (long)positions * ValueDim);
        CheckFits(positions, keys, values);
        for (var l = 0; l < _layers; l++)
            if (_k32 is not null)
            {
                _k32[l] = Resized(_k32[l], keys);
                _v32![l] = Resized(_v32[l], values);
            }
            else
            {
                _k16![l] = Resized(_k16[l], keys);
                _v16![l] = Resized(_v16[l], values);
            }
        _allocated = positions;
    }

    /// <summary>Refuses (53200) a growth the process cannot hold, before allocating any of it: a layer's keys beyond
    /// the largest .NET array, or the grown cache beyond the memory the GC may still use. A model's context_length
    /// (2^31 − 1 from a hostile config.json) is then a limit a sequence runs into with one clear line, not an
    /// OutOfMemoryException or the OS killing the process.</summary>
    private void CheckFits(int positions, long keys, long values)
    {
        var bytes = (double)_layers * positions * (KvDim + ValueDim) * ElementBytes;
        var memory = GC.GetGCMemoryInfo();
        var available = memory.TotalAvailableMemoryBytes - memory.HeapSizeBytes + AllocatedBytes;
        if (Math.Max(keys, values) <= Array.MaxLength && bytes <= available) return;
        throw new Vib3Exception(SqlState.OutOfMemory,
            $"the KV cache for {positions} positions (of context_length {Capacity}) would need {ByteSize.Format((long)Math.Min(bytes, long.MaxValue))}, " +
            $"more than the {ByteSize.Format(Math.Max(0, available))} of memory this process can still use; use a shorter context");
    }

    private T[] Resized<T>(T[]? old, long size)
    {
        var grown = new T[size];
        old?.CopyTo(grown, 0); // all of it: a batched step may have written past Length in some layers already
        return grown;
    }

    /// <summary>Width of a key row (of a latent row in a latent cache).</summary>
    public int KvDim { get; }

    /// <summary>Width of a value row: KvDim, or 0 in a latent cache.</summary>
    public int ValueDim { get; }

    public int Capacity { get; }

    public KvCacheType Type { get; }

    /// <summary>Positions filled so far (the next token goes at this position).</summary>
    public int Length { get; internal set; }

    public void CheckRoom(int more)
    {
        if (Length + more > Capacity)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"context is full: {Length} + {more} tokens exceed the context length {Capacity}");
    }

    /// <summary>A copy of the cache elsewhere (the device's, <see cref="Device.DeviceKvCaches"/>), told of every change
    /// to the rows it may hold; null for none. Set by the pass that runs the sequence.</summary>
    internal IKvCacheMirror? Mirror { get; set; }

    /// <summary>Stores position <paramref name="pos"/>'s key [KvDim] and value [ValueDim] of a layer (a latent cache: v empty).</summary>
    public void Write(int layer, int pos, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        Mirror?.Changed(layer, pos);
        EnsureAllocated(Math.Max(pos + 1, Length));
        if (_k32 is not null)
        {
            k.CopyTo(_k32[layer].AsSpan(pos * KvDim, KvDim));
            v.CopyTo(_v32![layer].AsSpan(pos * ValueDim, ValueDim));
            return;
        }
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(k, _k16![layer].AsSpan(pos * KvDim, KvDim));
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(v, _v16![layer].AsSpan(pos * ValueDim, ValueDim));
    }

    /// <summary>Key (latent) rows [0, positions) of a layer, [positions, KvDim], as f32: the cache itself, or (f16)
    /// decoded into <paramref name="scratch"/> (at least positions·KvDim floats; unused for f32).</summary>
    public ReadOnlyMemory<float> Latents(int layer, int positions, float[]? scratch)
    {
        var n = positions * KvDim;
        if (_k32 is not null) return _k32[layer].AsMemory(0, n);
        ArgumentNullException.ThrowIfNull(scratch);
        System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(_k16![layer].AsSpan(0, n), scratch.AsSpan(0, n));
        return scratch.AsMemory(0, n);
    }

    /// <summary>Keys (<paramref name="key"/>) or values of positions [from, from + count) of a layer as stored (f32 or
    /// f16 bits): what a mirror copies.</summary>
    internal ReadOnlySpan<byte> StoredBytes(bool key, int layer, int from, int count)
    {
        var width = key ? KvDim : ValueDim;
        return _k32 is not null
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes((key ? _k32 : _v32!)[layer].AsSpan(from * width, count * width))
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes((key ? _k16! : _v16!)[layer].AsSpan(from * width, count * width));
    }

    /// <summary>Layers of the cache.</summary>
    public int Layers => _layers;

    /// <summary>Causal attention of one query [heads·headDim] over positions [0, positions) of a layer.</summary>
    public void Attend(int layer, int positions, ReadOnlySpan<float> q, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch)
    {
        var n = positions * KvDim;
        if (_k32 is not null)
            Attention.Decode(q, _k32[layer].AsSpan(0, n), _v32![layer].AsSpan(0, n), positions, heads, kvHeads, headDim, output, scratch);
        else
            Attention.DecodeF16(q, _k16![layer].AsSpan(0, n), _v16![layer].AsSpan(0, n), positions, heads, kvHeads, headDim, output, scratch);
    }

    /// <summary>Element i of position <paramref name="pos"/>'s key or value in a layer (for checks).</summary>
    internal float Read(bool key, int layer, int pos, int i)
    {
        var at = pos * (key ? KvDim : ValueDim) + i;
        if (_k32 is not null) return (key ? _k32 : _v32!)[layer][at];
        return (float)(key ? _k16! : _v16!)[layer][at];
    }

    /// <summary>Copies the first <paramref name="positions"/> positions of every layer from <paramref name="source"/>
    /// (same shape and type): several sequences sampled from one prompt share its prefill this way.</summary>
    public void CopyPrefixFrom(KvCache source, int positions)
    {
        if (source.KvDim != KvDim || source.ValueDim != ValueDim || source.Type != Type || positions > Capacity || positions > source.Length)
            throw new ArgumentException("the caches differ in shape or type, or the prefix does not fit", nameof(source));
        var (keys, values) = (positions * KvDim, positions * ValueDim);
        EnsureAllocated(positions);
        if (_k32 is not null)
            for (var l = 0; l < _k32.Length; l++)
            {
                source._k32![l].AsSpan(0, keys).CopyTo(_k32[l]);
                source._v32![l].AsSpan(0, values).CopyTo(_v32![l]);
            }
        else
            for (var l = 0; l < _k16!.Length; l++)
            {
                source._k16![l].AsSpan(0, keys).CopyTo(_k16[l]);
                source._v16![l].AsSpan(0, values).CopyTo(_v16![l]);
            }
        Length = positions;
        for (var l = 0; l < _layers; l++) Mirror?.Changed(l, 0);
    }

    public void Clear() => Length = 0;
}

/// <summary>A copy of a <see cref="KvCache"/>'s rows kept elsewhere, which must copy again what changed.</summary>
internal interface IKvCacheMirror
{
    /// <summary>Rows of <paramref name="layer"/> from <paramref name="position"/> on changed (written or rewritten).</summary>
    void Changed(int layer, int position);
}
