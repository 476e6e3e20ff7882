using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>A row of IQ4_XS weights · a row of Q8_K activations (<see cref="KQuantRow"/>): each nibble indexes the
/// IQ4 non-linear codebook (signed, |value| ≤ 127, looked up with a byte shuffle), eight 32-value sub-blocks with
/// 6-bit scales stored biased by 32.</summary>
public static unsafe class IQ4XSDot
{
    private const int QuantsOffset = 8;

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
        private const int ScaleBias = 32;

        public static int BlockBytes => 136;
        public static bool HasMins => false;
        public static bool UsesSums => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin)
        {
            var high = *(ushort*)(block + 2);
            for (var s = 0; s < 8; s++)
                scales[s] = (short)((((block[4 + s / 2] >> (4 * (s % 2))) & 0xF) | (((high >> (2 * s)) & 3) << 4)) - ScaleBias);
            d = KQuantRow.Half(halves, block);
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
            var codebook = IQ4NonLinear.Codebook;
            var sumi = 0;
            for (var s = 0; s < 8; s++)
            {
                var nibbles = block + QuantsOffset + 16 * s;
                var dot = 0;
                for (var l = 0; l < 16; l++)
                    dot += codebook[nibbles[l] & 0xF] * x[32 * s + l] + codebook[nibbles[l] >> 4] * x[32 * s + l + 16];
                sumi += scales[s] * dot;
            }
            return sumi;
        }
    }

    /// <summary>Sub-block s: its 16 nibble bytes give values 0–15 (low nibbles) and 16–31 (high ones).</summary>
    private readonly struct VectorSums<TDot> : IKQuantSums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            var codebook = Vector128.Create(IQ4NonLinear.Codebook);
            var table = Vector256.Create(codebook, codebook);
            var low4 = Vector128.Create((byte)0x0F);
            for (var s = 0; s < 8; s++)
            {
                var nibbles = Vector128.Load(block + QuantsOffset + 16 * s);
                var values = TDot.Lookup(table, Vector256.Create(nibbles & low4, nibbles >>> 4));
                ByteDots.AddSigned<TDot>(values, x + 32 * s, stride, inputs, ByteDots.Scale(scales[s]), ref a0, ref a1, ref a2, ref a3);
            }
            ByteDots.Store(inputs, sumis, a0, a1, a2, a3);
        }
    }
}
