using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>A row of Q3_K weights · a row of Q8_K activations (<see cref="KQuantRow"/>): 3-bit quants dotted unsigned
/// (low 2 bits + 4·hmask bit, 0…7; the −4 offset comes back through the block sums), sixteen 16-value sub-blocks
/// with 6-bit scales stored biased by 32.</summary>
public static unsafe class Q3KDot
{
    private const int QuantsOffset = 32;

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
        private const int TableOffset = 96;
        private const int ScaleOffset = 108;
        private const int ScaleBias = 32;

        private const int Offset = 4;

        public static int BlockBytes => 110;
        public static bool HasMins => false;
        public static bool UsesSums => true;

        /// <summary>Scale s is the low or high nibble of table byte s % 8 topped by two bits of byte 8 + s % 4
        /// (Q3K's layout); unpacked four at a time in 32-bit words as llama.cpp does.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
        {
            const uint low4 = 0x0F0F0F0F, low2 = 0x03030303;
            var table = block + TableOffset;
            uint a = *(uint*)table, b = *(uint*)(table + 4), top = *(uint*)(table + 8);
            var packed = Vector128.Create(
                (a & low4) | ((top & low2) << 4),
                (b & low4) | (((top >> 2) & low2) << 4),
                ((a >> 4) & low4) | (((top >> 4) & low2) << 4),
                ((b >> 4) & low4) | (((top >> 6) & low2) << 4));
            var shorts = KQuantRow.Shorts(packed.AsSByte() - Vector128.Create((sbyte)ScaleBias));
            d = KQuantRow.Half(halves, block + ScaleOffset);
            dmin = 0;
            return new BlockScales(KQuantRow.Both(shorts.GetLower()), KQuantRow.Both(shorts.GetUpper()), shorts * Offset);
        }
    }

    /// <summary>Value 128h + 32j + l: bits 2j…2j+1 of qs[32h + l], plus 4 where bit 4h+j of hmask[l] is set.</summary>
    private readonly struct Quants : IScalarQuants
    {
        public static int SubBlockValues => 16;

        public static int Quant(byte* block, int p)
        {
            int h = p / 128, j = p % 128 / 32, l = p % 32;
            return ((block[QuantsOffset + 32 * h + l] >> (2 * j)) & 3) | (((block[l] >> (4 * h + j)) & 1) << 2);
        }
    }

    /// <summary>Value 128h + 32j + l: bits 2j…2j+1 of qs[32h + l], high bit 4h+j of hmask[l] (moved to bit 2, value
    /// 4); each 32-value run spans sub-blocks 8h+2j and 8h+2j+1; with one input run j goes to chain j.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
            out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var hmask = Vector256.Load(block);
            Half<TCount>(0, block, hmask, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            Half<TCount>(1, block, hmask >>> 4, x, stride, inputs, scales.High, ref a0, ref a1, ref a2, ref a3);
            ByteDots.Lanes<TCount>(ref a0, a1, a2, a3);
            (l0, l1, l2, l3) = (a0, a1, a2, a3);
        }

        /// <summary>Called with constant <paramref name="h"/>; <paramref name="hmask"/> already shifted right by 4h.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Half<TCount>(int h, byte* block, Vector256<byte> hmask, sbyte* x, long stride, int inputs, Vector256<short> table,
            ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TCount : IInputCount
        {
            var three = Vector256.Create((byte)3);
            var four = Vector256.Create((byte)4);
            var q = Vector256.Load(block + QuantsOffset + 32 * h);
            var xh = x + 128 * h;
            ByteDots.Add<TDot, TCount>(0, (q & three) | ((hmask << 2) & four), xh, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 0), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(1, ((q >>> 2) & three) | ((hmask << 1) & four), xh + 32, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 1), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(2, ((q >>> 4) & three) | (hmask & four), xh + 64, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 2), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(3, (q >>> 6) | ((hmask >>> 1) & four), xh + 96, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 3), ref a0, ref a1, ref a2, ref a3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> WeightedSums(Vector256<short> weights, short* bsums) => TDot.PairDot(weights, Vector256.Load(bsums));
    }
}
