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
        public static int BlockBytes => 84;
        public static bool HasMins => true;
        public static bool UsesSums => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
        {
            var packed = Vector128.Load(block);
            var scales = KQuantRow.Shorts((packed & Vector128.Create((byte)0x0F)).AsSByte());
            d = KQuantRow.Half(halves, block + 80);
            dmin = KQuantRow.Half(halves, block + 82);
            return new BlockScales(KQuantRow.Both(scales.GetLower()), KQuantRow.Both(scales.GetUpper()), KQuantRow.Shorts((packed >>> 4).AsSByte()));
        }
    }

    /// <summary>Value 128h + 32j + l is bits 2j…2j+1 of qs[32h + l].</summary>
    private readonly struct Quants : IScalarQuants
    {
        public static int SubBlockValues => 16;

        public static int Quant(byte* block, int p) => (block[QuantsOffset + 32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32))) & 3;
    }

    /// <summary>Each 32-value run spans sub-blocks 8h+2j, 8h+2j+1; with one input run j goes to chain j.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
            out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            Half<TCount>(0, block, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
            Half<TCount>(1, block, x, stride, inputs, scales.High, ref a0, ref a1, ref a2, ref a3);
            ByteDots.Lanes<TCount>(ref a0, a1, a2, a3);
            (l0, l1, l2, l3) = (a0, a1, a2, a3);
        }

        /// <summary>Called with constant <paramref name="h"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Half<TCount>(int h, byte* block, sbyte* x, long stride, int inputs, Vector256<short> table,
            ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TCount : IInputCount
        {
            var three = Vector256.Create((byte)3);
            var q = Vector256.Load(block + QuantsOffset + 32 * h);
            var xh = x + 128 * h;
            ByteDots.Add<TDot, TCount>(0, q & three, xh, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 0), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(1, (q >>> 2) & three, xh + 32, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 1), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(2, (q >>> 4) & three, xh + 64, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 2), ref a0, ref a1, ref a2, ref a3);
            ByteDots.Add<TDot, TCount>(3, q >>> 6, xh + 96, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 3), ref a0, ref a1, ref a2, ref a3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> WeightedSums(Vector256<short> weights, short* bsums) => TDot.PairDot(weights, Vector256.Load(bsums));
    }
}
