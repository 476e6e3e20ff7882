using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>A row of Q4_K weights · a row of Q8_K activations (<see cref="KQuantRow"/>): 4-bit unsigned quants,
/// eight 32-value sub-blocks with 6-bit scales and mins.</summary>
public static unsafe class Q4KDot
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

    /// <summary>Shared with Q5_K, whose block starts the same way (d, dmin, the packed 6-bit table).</summary>
    internal readonly struct Block : IKQuantBlock
    {
        public static int BlockBytes => 144;
        public static bool HasMins => true;
        public static bool UsesSums => true;

        /// <summary>The 12-byte table (<see cref="PackedScales6"/>) unpacked four at a time in 32-bit words, as
        /// llama.cpp does; the scalar twin's sums read the same scales, and the ggml differential test checks both.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin)
        {
            const uint six = 0x3F3F3F3F, four = 0x0F0F0F0F, two = 0x03030303;
            uint a = *(uint*)(block + 4), b = *(uint*)(block + 8), c = *(uint*)(block + 12);
            var scales8 = (a & six) | (ulong)((c & four) | (((a >> 6) & two) << 4)) << 32;
            var mins8 = (b & six) | (ulong)(((c >> 4) & four) | (((b >> 6) & two) << 4)) << 32;
            KQuantRow.Shorts(Vector128.CreateScalar(scales8).AsSByte()).Store(scales);
            // Each 32-value sub-block spans two of the sixteen block sums: min s weighs sums 2s and 2s+1.
            var pairs = Vector128.Shuffle(Vector128.CreateScalar(mins8).AsSByte(), Vector128.Create((sbyte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
            KQuantRow.Shorts(pairs).Store(sumWeights);
            d = KQuantRow.Half(halves, block);
            dmin = KQuantRow.Half(halves, block + 2);
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
            var sumi = 0;
            for (var s = 0; s < 8; s++)
            {
                var dot = 0;
                for (var l = 0; l < 32; l++) dot += ((qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 0xF) * x[32 * s + l];
                sumi += scales[s] * dot;
            }
            return sumi;
        }
    }

    /// <summary>Group g's 32 bytes give sub-block 2g in their low nibbles and 2g+1 in their high ones.</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var qs = block + QuantsOffset;
            var low4 = Vector256.Create((byte)0x0F);
            for (var g = 0; g < 4; g++)
            {
                var q = Vector256.Load(qs + 32 * g);
                ByteDots.Add<TDot>(q & low4, x + 64 * g, stride, inputs, ByteDots.Scale(scales[2 * g]), ref a0, ref a1, ref a2, ref a3);
                ByteDots.Add<TDot>(q >>> 4, x + 64 * g + 32, stride, inputs, ByteDots.Scale(scales[2 * g + 1]), ref a0, ref a1, ref a2, ref a3);
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
