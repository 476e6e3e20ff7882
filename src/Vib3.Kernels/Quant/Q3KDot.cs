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
        switch (tier)
        {
            case IntegerTier.AvxVnni: KQuantRow.Run<Block, VectorSums<VnniDot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Avx2: KQuantRow.Run<Block, VectorSums<Avx2Dot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Vector256: KQuantRow.Run<Block, VectorSums<PortableDot>>(row, q8k, stride, inputs, blocks, output); break;
            default: KQuantRow.Run<Block, ScalarSums>(row, q8k, stride, inputs, blocks, output); break;
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
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin)
        {
            const uint low4 = 0x0F0F0F0F, low2 = 0x03030303;
            var table = block + TableOffset;
            uint a = *(uint*)table, b = *(uint*)(table + 4), top = *(uint*)(table + 8);
            var packed = Vector128.Create(
                (a & low4) | ((top & low2) << 4),
                (b & low4) | (((top >> 2) & low2) << 4),
                ((a >> 4) & low4) | (((top >> 4) & low2) << 4),
                ((b >> 4) & low4) | (((top >> 6) & low2) << 4));
            var int8 = packed.AsSByte() - Vector128.Create((sbyte)ScaleBias);
            var shorts = KQuantRow.Shorts(int8);
            shorts.Store(scales);
            (shorts * Offset).Store(sumWeights);
            d = KQuantRow.Half(halves, block + ScaleOffset);
            dmin = 0;
        }
    }

    private readonly struct ScalarSums : IKQuantSums
    {
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            for (var k = 0; k < inputs; k++) sumis[k] = One(block, x + k * stride, scales);
        }

        private static int One(byte* block, sbyte* x, short* scales)
        {
            byte* hmask = block, qs = block + QuantsOffset;
            var dots = stackalloc int[16];
            for (var s = 0; s < 16; s++) dots[s] = 0;
            for (var p = 0; p < 256; p++)
            {
                int h = p / 128, j = p % 128 / 32, l = p % 32;
                var u = ((qs[32 * h + l] >> (2 * j)) & 3) | (((hmask[l] >> (4 * h + j)) & 1) << 2);
                dots[p / 16] += u * x[p];
            }
            var sumi = 0;
            for (var s = 0; s < 16; s++) sumi += scales[s] * dots[s];
            return sumi;
        }
    }

    /// <summary>Value 128h + 32j + l: bits 2j…2j+1 of qs[32h + l], high bit 4h+j of hmask[l] (moved to bit 2, value
    /// 4); each 32-value run spans sub-blocks 8h+2j and 8h+2j+1.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var hmask = Vector256.Load(block);
            var three = Vector256.Create((byte)3);
            var four = Vector256.Create((byte)4);
            for (var h = 0; h < 2; h++)
            {
                // Constant shifts, written out: a shift by a loop variable costs the JIT a computed mask per use.
                var q = Vector256.Load(block + QuantsOffset + 32 * h);
                var xh = x + 128 * h;
                ByteDots.Add<TDot>((q & three) | ((hmask << 2) & four), xh, stride, inputs, ByteDots.Pair(scales, 8 * h), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>(((q >>> 2) & three) | ((hmask << 1) & four), xh + 32, stride, inputs, ByteDots.Pair(scales, 8 * h + 2), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>(((q >>> 4) & three) | (hmask & four), xh + 64, stride, inputs, ByteDots.Pair(scales, 8 * h + 4), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((q >>> 6) | ((hmask >>> 1) & four), xh + 96, stride, inputs, ByteDots.Pair(scales, 8 * h + 6), ref a0, ref a1, ref a2, ref a3);
                hmask >>>= 4; // the second half's high bits are bits 4–7
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
