using Vib3.Core;
using Vib3.Kernels;

namespace Vib3.Models.Inference;

/// <summary>Element type of the KV cache: f32 (exact) or f16 (half the memory, llama.cpp's default).</summary>
public enum KvCacheType
{
    F32,
    F16,
}

/// <summary>Keys and values of one sequence, per layer: K[l] and V[l] are [Capacity, KvHeads·HeadDim], row p
/// holding position p (keys after RoPE). Memory grows with use (doubling, up to the capacity), so a sequence that
/// may run to a long context but stops early never holds the whole context's worth.</summary>
public sealed class KvCache
{
    private const int FirstPositions = 64;
    private readonly float[][]? _k32; // [layers][allocated · kvDim]
    private readonly float[][]? _v32; // [layers][allocated · kvDim]
    private readonly Half[][]? _k16;  // [layers][allocated · kvDim]
    private readonly Half[][]? _v16;  // [layers][allocated · kvDim]
    private readonly int _layers;
    private int _allocated;           // positions each layer's arrays hold

    public KvCache(int layers, int kvDim, int capacity, KvCacheType type = KvCacheType.F32)
    {
        if (capacity < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"context length must be positive, not {capacity}");
        KvDim = kvDim;
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
        Grow(Math.Min(capacity, FirstPositions));
    }

    /// <summary>Bytes the cache would hold at full capacity.</summary>
    public long Bytes => 2L * _layers * Capacity * KvDim * ElementBytes;

    /// <summary>Bytes held now.</summary>
    public long AllocatedBytes => 2L * _layers * _allocated * KvDim * ElementBytes;

    private int ElementBytes => Type == KvCacheType.F32 ? sizeof(float) : 2;

    /// <summary>Makes room for positions [0, positions), doubling.</summary>
    private void EnsureAllocated(int positions)
    {
        if (positions <= _allocated) return;
        Grow((int)Math.Min(Capacity, Math.Max(positions, 2L * _allocated)));
    }

    private void Grow(int positions)
    {
        var size = (long)positions * KvDim;
        for (var l = 0; l < _layers; l++)
            if (_k32 is not null)
            {
                _k32[l] = Resized(_k32[l], size);
                _v32![l] = Resized(_v32[l], size);
            }
            else
            {
                _k16![l] = Resized(_k16[l], size);
                _v16![l] = Resized(_v16[l], size);
            }
        _allocated = positions;
    }

    private T[] Resized<T>(T[]? old, long size)
    {
        var grown = new T[size];
        old?.CopyTo(grown, 0); // all of it: a batched step may have written past Length in some layers already
        return grown;
    }

    public int KvDim { get; }

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

    /// <summary>Stores position <paramref name="pos"/>'s key and value [KvDim] of a layer.</summary>
    public void Write(int layer, int pos, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        EnsureAllocated(Math.Max(pos + 1, Length));
        if (_k32 is not null)
        {
            k.CopyTo(_k32[layer].AsSpan(pos * KvDim, KvDim));
            v.CopyTo(_v32![layer].AsSpan(pos * KvDim, KvDim));
            return;
        }
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(k, _k16![layer].AsSpan(pos * KvDim, KvDim));
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(v, _v16![layer].AsSpan(pos * KvDim, KvDim));
    }

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
        var at = pos * KvDim + i;
        if (_k32 is not null) return (key ? _k32 : _v32!)[layer][at];
        return (float)(key ? _k16! : _v16!)[layer][at];
    }

    /// <summary>Copies the first <paramref name="positions"/> positions of every layer from <paramref name="source"/>
    /// (same shape and type): several sequences sampled from one prompt share its prefill this way.</summary>
    public void CopyPrefixFrom(KvCache source, int positions)
    {
        if (source.KvDim != KvDim || source.Type != Type || positions > Capacity || positions > source.Length)
            throw new ArgumentException("the caches differ in shape or type, or the prefix does not fit", nameof(source));
        var n = positions * KvDim;
        EnsureAllocated(positions);
        if (_k32 is not null)
            for (var l = 0; l < _k32.Length; l++)
            {
                source._k32![l].AsSpan(0, n).CopyTo(_k32[l]);
                source._v32![l].AsSpan(0, n).CopyTo(_v32![l]);
            }
        else
            for (var l = 0; l < _k16!.Length; l++)
            {
                source._k16![l].AsSpan(0, n).CopyTo(_k16[l]);
                source._v16![l].AsSpan(0, n).CopyTo(_v16![l]);
            }
        Length = positions;
    }

    public void Clear() => Length = 0;
}
