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
        public static int BlockBytes => 176;
        public static bool HasMins => true;
        public static bool UsesSums => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin) =>
            Q4KDot.Block.Decode(block, halves, scales, sumWeights, out d, out dmin);
    }

    private readonly struct ScalarSums : IKQuantSums
    {
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            for (var k = 0; k < inputs; k++) sumis[k] = One(block, x + k * stride, scales);
        }

        private static int One(byte* block, sbyte* x, short* scales)
        {
            byte* qh = block + HighBitsOffset, qs = block + QuantsOffset;
            var sumi = 0;
            for (var s = 0; s < 8; s++)
            {
                var dot = 0;
                for (var l = 0; l < 32; l++)
                    dot += (((qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 0xF) | (((qh[l] >> s) & 1) << 4)) * x[32 * s + l];
                sumi += scales[s] * dot;
            }
            return sumi;
        }
    }

    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var qs = block + QuantsOffset;
            var qh = Vector256.Load(block + HighBitsOffset);
            var low4 = Vector256.Create((byte)0x0F);
            var sixteen = Vector256.Create((byte)0x10);
            for (var g = 0; g < 4; g++)
            {
                var q = Vector256.Load(qs + 32 * g);
                var low = (q & low4) | ((qh << 4) & sixteen);
                var high = (q >>> 4) | ((qh << 3) & sixteen);
                ByteDots.Add<TDot>(low, x + 64 * g, stride, inputs, ByteDots.Scale(scales[2 * g]), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>(high, x + 64 * g + 32, stride, inputs, ByteDots.Scale(scales[2 * g + 1]), ref a0, ref a1, ref a2, ref a3);
                qh >>>= 2; // constant shifts: the next group's bits 2g, 2g+1 move to bits 0, 1
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
