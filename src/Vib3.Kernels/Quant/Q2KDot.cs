using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>A row of Q2_K weights · a row of Q8_K activations (<see cref="KQuantRow"/>): 2-bit unsigned quants,
/// sixteen 16-value sub-blocks with a 4-bit scale and a 4-bit min each.</summary>
public static unsafe class Q2KDot
{
    private const int QuantsOffset = 16;

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
        public static int BlockBytes => 84;
        public static bool HasMins => true;
        public static bool UsesSums => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin)
        {
            var packed = Vector128.Load(block);
            KQuantRow.Shorts((packed & Vector128.Create((byte)0x0F)).AsSByte()).Store(scales);
            KQuantRow.Shorts((packed >>> 4).AsSByte()).Store(sumWeights);
            d = KQuantRow.Half(halves, block + 80);
            dmin = KQuantRow.Half(halves, block + 82);
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
            var qs = block + QuantsOffset;
            var dots = stackalloc int[16];
            for (var s = 0; s < 16; s++) dots[s] = 0;
            for (var p = 0; p < 256; p++)
                dots[p / 16] += ((qs[32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32))) & 3) * x[p];
            var sumi = 0;
            for (var s = 0; s < 16; s++) sumi += scales[s] * dots[s];
            return sumi;
        }
    }

    /// <summary>Value 128h + 32j + l is bits 2j…2j+1 of qs[32h + l]; each 32-value run spans sub-blocks 8h+2j, 8h+2j+1.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var three = Vector256.Create((byte)3);
            for (var h = 0; h < 2; h++)
            {
                // Constant shifts, written out: a shift by a loop variable costs the JIT a computed mask per use.
                var q = Vector256.Load(block + QuantsOffset + 32 * h);
                var xh = x + 128 * h;
                ByteDots.Add<TDot>(q & three, xh, stride, inputs, ByteDots.Pair(scales, 8 * h), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((q >>> 2) & three, xh + 32, stride, inputs, ByteDots.Pair(scales, 8 * h + 2), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>((q >>> 4) & three, xh + 64, stride, inputs, ByteDots.Pair(scales, 8 * h + 4), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>(q >>> 6, xh + 96, stride, inputs, ByteDots.Pair(scales, 8 * h + 6), ref a0, ref a1, ref a2, ref a3);
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
