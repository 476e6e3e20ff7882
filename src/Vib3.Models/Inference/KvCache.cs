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
/// holding position p (keys after RoPE).</summary>
public sealed class KvCache
{
    private readonly float[][]? _k32; // [layers][capacity · kvDim]
    private readonly float[][]? _v32; // [layers][capacity · kvDim]
    private readonly Half[][]? _k16;  // [layers][capacity · kvDim]
    private readonly Half[][]? _v16;  // [layers][capacity · kvDim]

    public KvCache(int layers, int kvDim, int capacity, KvCacheType type = KvCacheType.F32)
    {
        if (capacity < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"context length must be positive, not {capacity}");
        KvDim = kvDim;
        Capacity = capacity;
        Type = type;
        var size = (long)capacity * kvDim;
        if (type == KvCacheType.F32)
        {
            _k32 = Enumerable.Range(0, layers).Select(_ => new float[size]).ToArray();
            _v32 = Enumerable.Range(0, layers).Select(_ => new float[size]).ToArray();
        }
        else
        {
            _k16 = Enumerable.Range(0, layers).Select(_ => new Half[size]).ToArray();
            _v16 = Enumerable.Range(0, layers).Select(_ => new Half[size]).ToArray();
        }
        Bytes = 2L * layers * size * (type == KvCacheType.F32 ? sizeof(float) : 2);
    }

    public int KvDim { get; }

    public int Capacity { get; }

    public KvCacheType Type { get; }

    public long Bytes { get; }

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

    /// <summary>Copies the first <paramref name="positions"/> positions of every layer from <paramref name="source"/>
    /// (same shape and type): several sequences sampled from one prompt share its prefill this way.</summary>
    public void CopyPrefixFrom(KvCache source, int positions)
    {
        if (source.KvDim != KvDim || source.Type != Type || positions > Capacity || positions > source.Length)
            throw new ArgumentException("the caches differ in shape or type, or the prefix does not fit", nameof(source));
        var n = positions * KvDim;
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
