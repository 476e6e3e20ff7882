using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>One format's quants read one value at a time, for the scalar twin.</summary>
internal unsafe interface IScalarQuants
{
    /// <summary>Values per sub-block (one scale each): 16 or 32.</summary>
    static abstract int SubBlockValues { get; }

    /// <summary>The integer the kernels multiply for value <paramref name="p"/> (0–255) of the block: the unsigned
    /// quant (offset formats: q + c, see <see cref="IKQuantBlock.HasMins"/>), or IQ4_XS's signed codebook value.</summary>
    static abstract int Quant(byte* block, int p);
}

/// <summary>The scalar twin of every format's <see cref="IKQuantSums"/>: the lane definition written out one
/// product at a time, the reference the vector tiers are tested against.</summary>
internal readonly unsafe struct ScalarSums<TQuants> : IKQuantSums where TQuants : IScalarQuants
{
    private const int LaneValues = 4;
    private const int RunValues = 32;

    public static void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
    {
        l0 = One(block, x, scales);
        l1 = inputs > 1 ? One(block, x + stride, scales) : default;
        l2 = inputs > 2 ? One(block, x + 2 * stride, scales) : default;
        l3 = inputs > 3 ? One(block, x + 3 * stride, scales) : default;
    }

    private static Vector256<int> One(byte* block, sbyte* x, BlockScales scales)
    {
        var lanes = stackalloc int[Vector256<int>.Count];
        for (var i = 0; i < Vector256<int>.Count; i++) lanes[i] = 0;
        for (var p = 0; p < Q8K.BlockValues; p++)
            lanes[p % RunValues / LaneValues] += scales.Scale(p / TQuants.SubBlockValues) * TQuants.Quant(block, p) * x[p];
        return Vector256.Load(lanes);
    }

    public static Vector256<int> WeightedSums(Vector256<short> weights, short* bsums)
    {
        var lanes = stackalloc int[Vector256<int>.Count];
        for (var i = 0; i < Vector256<int>.Count; i++) lanes[i] = 0;
        for (var r = 0; r < Q8K.BlockValues / Q8K.SumRun; r++) lanes[r / 2] += weights.GetElement(r) * bsums[r];
        return Vector256.Load(lanes);
    }
}
