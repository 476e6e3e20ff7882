using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>A row of Q5_K weights · a row of Q8_K activations (<see cref="KQuantRow"/>): Q4_K's nibbles and table
/// plus a fifth bit per value from qh (bit s of qh[l] for value 32s + l), so quants are 0…31.</summary>
public static unsafe class Q5KDot
{
    private const int HighBitsOffset = 16;
    private const int QuantsOffset = 48;

    /// <summary>Σ w·x over <paramref name="blocks"/> blocks, on the fastest tier.</summary>
    public static float Dot(byte* row, byte* q8k, int blocks)
    {
        float result;
        Dot(IntegerTiers.Best, row, q8k, 0, 1, blocks, &result);
        return result;
    }

    /// <summary>One weight row against <paramref name="inputs"/> activation rows (row k at q8k + k·stride):
    /// output[k] is bit for bit what <see cref="Dot(byte*, byte*, int)"/> gives for row k.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
    {
        switch (IntegerTiers.Narrow(tier))
        {
            case IntegerTier.AvxVnni: KQuantRow.Run<Block, VectorSums<VnniDot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Avx2: KQuantRow.Run<Block, VectorSums<Avx2Dot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Vector256: KQuantRow.Run<Block, VectorSums<PortableDot>>(row, q8k, stride, inputs, blocks, output); break;
            default: KQuantRow.Run<Block, ScalarSums<Quants>>(row, q8k, stride, inputs, blocks, output); break;
        }
    }

    private readonly struct Block : IKQuantBlock
    {
        public static int BlockBytes => 176;
        public static bool HasMins => true;
        public static bool UsesSums => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin) =>
            Q4KDot.Block.Decode(block, halves, out d, out dmin);
    }

    private readonly struct Quants : IScalarQuants
    {
        public static int SubBlockValues => 32;

        public static int Quant(byte* block, int p)
        {
            int s = p / 32, l = p % 32;
            return ((block[QuantsOffset + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0xF) | (((block[HighBitsOffset + l] >> s) & 1) << 4);
        }
    }

    /// <summary>Q4_K's groups with the fifth bits of sub-blocks 2g and 2g+1 (bits 2g, 2g+1 of qh) moved to bit 4.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
            out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var qh = Vector256.Load(block + HighBitsOffset);
            Group<TCount>(0, block, qh, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            Group<TCount>(1, block, qh >>> 2, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            Group<TCount>(2, block, qh >>> 4, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            Group<TCount>(3, block, qh >>> 6, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            ByteDots.Lanes<TCount>(ref a0, a1, a2, a3);
            (l0, l1, l2, l3) = (a0, a1, a2, a3);
        }

        /// <summary>Called with constant <paramref name="g"/>; <paramref name="qh"/> already shifted right by 2g.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Group<TCount>(int g, byte* block, Vector256<byte> qh, sbyte* x, long stride, int inputs, Vector256<short> table,
            ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TCount : IInputCount
        {
            var sixteen = Vector256.Create((byte)0x10);
            var q = Vector256.Load(block + QuantsOffset + 32 * g);
            var low = (q & Vector256.Create((byte)0x0F)) | ((qh << 4) & sixteen);
            var high = (q >>> 4) | ((qh << 3) & sixteen);
            ByteDots.Add<TDot, TCount>(2 * g % 4, low, x + 64 * g, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>((2 * g + 1) % 4, high, x + 64 * g + 32, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g + 1), ref a0, ref a1, ref a2, ref a3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> WeightedSums(Vector256<short> weights, short* bsums) => TDot.PairDot(weights, Vector256.Load(bsums));
    }
}
