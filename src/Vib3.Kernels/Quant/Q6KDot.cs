using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>A row of Q6_K weights · a row of Q8_K activations (<see cref="KQuantRow"/>): 6-bit quants dotted unsigned
/// (0…63, the −32 offset comes back through the block sums), sixteen 16-value sub-blocks with int8 scales.</summary>
public static unsafe class Q6KDot
{
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
        private const int ScalesOffset = 192;
        private const int ScaleOffset = 208;

        private const int Offset = 32;

        public static int BlockBytes => 210;
        public static bool HasMins => false;
        public static bool UsesSums => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin)
        {
            var int8 = Vector128.Load((sbyte*)(block + ScalesOffset));
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
            var dots = stackalloc int[16];
            for (var s = 0; s < 16; s++) dots[s] = 0;
            for (var h = 0; h < 2; h++)
            {
                byte* ql = block + 64 * h, qh = block + 128 + 32 * h;
                for (var l = 0; l < 32; l++)
                {
                    // Values l, l+32, l+64, l+96 of this half, as Q6K's layout documents.
                    for (var part = 0; part < 4; part++)
                    {
                        var low = part % 2 == 0 ? ql[l] : ql[l + 32];
                        var q = ((low >> (4 * (part / 2))) & 0xF) | (((qh[l] >> (2 * part)) & 3) << 4);
                        var value = 128 * h + 32 * part + l;
                        dots[value / 16] += q * x[value];
                    }
                }
            }
            var sumi = 0;
            for (var s = 0; s < 16; s++) sumi += scales[s] * dots[s];
            return sumi;
        }
    }

    /// <summary>Each half's four 32-value runs are rebuilt from ql and qh in registers; a run spans two sub-blocks,
    /// one per 128-bit half of the product vector.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var low4 = Vector256.Create((byte)0x0F);
            var low2 = Vector256.Create((byte)0x03);
            for (var h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(block + 64 * h);
                var ql1 = Vector256.Load(block + 64 * h + 32);
                var qh = Vector256.Load(block + 128 + 32 * h);
                var xh = x + 128 * h;
                ByteDots.Add<TDot>((ql0 & low4) | ((qh & low2) << 4), xh, stride, inputs, ByteDots.Pair(scales, 8 * h), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((ql1 & low4) | (((qh >>> 2) & low2) << 4), xh + 32, stride, inputs, ByteDots.Pair(scales, 8 * h + 2), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((ql0 >>> 4) | (((qh >>> 4) & low2) << 4), xh + 64, stride, inputs, ByteDots.Pair(scales, 8 * h + 4), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((ql1 >>> 4) | ((qh >>> 6) << 4), xh + 96, stride, inputs, ByteDots.Pair(scales, 8 * h + 6), ref a0, ref a1, ref a2, ref a3);
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
