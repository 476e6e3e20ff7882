using Vib3.Core;

namespace Vib3.Models.Inference;

/// <summary>Keys and values of one sequence, per layer: K[l] and V[l] are [Capacity, KvHeads·HeadDim], row p
/// holding position p (after RoPE for keys). f32; an f16 variant halves the memory.</summary>
public sealed class KvCache
{
    private readonly float[][] _k; // [layers][capacity · kvDim]
    private readonly float[][] _v; // [layers][capacity · kvDim]

    public KvCache(int layers, int kvDim, int capacity)
    {
        if (capacity < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"context length must be positive, not {capacity}");
        KvDim = kvDim;
        Capacity = capacity;
        _k = new float[layers][];
        _v = new float[layers][];
        for (var l = 0; l < layers; l++)
        {
            _k[l] = new float[(long)capacity * kvDim];
            _v[l] = new float[(long)capacity * kvDim];
        }
    }

    public int KvDim { get; }

    public int Capacity { get; }

    /// <summary>Positions filled so far (the next token goes at this position).</summary>
    public int Length { get; internal set; }

    public long Bytes => 2L * _k.Length * Capacity * KvDim * sizeof(float);

    public void CheckRoom(int more)
    {
        if (Length + more > Capacity)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"context is full: {Length} + {more} tokens exceed the context length {Capacity}");
    }

    public Span<float> K(int layer, int pos) => _k[layer].AsSpan(pos * KvDim, KvDim);

    public Span<float> V(int layer, int pos) => _v[layer].AsSpan(pos * KvDim, KvDim);

    /// <summary>Keys of positions [0, count) of a layer, [count, KvDim].</summary>
    public ReadOnlySpan<float> Keys(int layer, int count) => _k[layer].AsSpan(0, count * KvDim);

    public ReadOnlySpan<float> Values(int layer, int count) => _v[layer].AsSpan(0, count * KvDim);

    public void Clear() => Length = 0;
}
