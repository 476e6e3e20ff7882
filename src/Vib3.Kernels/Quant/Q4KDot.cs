using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>
/// A row of Q4_K weights · a row of Q8_K activations, the way llama.cpp's x86 ggml_vec_dot_q4_K_q8_K computes it:
/// per block, sumi = Σ_s scale_s·Σ_{j∈s} q_j·x_j and summ = Σ_s min_s·(bsum_2s + bsum_2s+1) are exact integers, and
/// the row adds (d_x·d)·sumi and subtracts (d_x·dmin)·summ in f32, block by block. The tiers differ only in how
/// they form the integer sums, so they give the same bits.
/// </summary>
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
        KQuantRow.CheckInputs(inputs, blocks);
        switch (tier)
        {
            case IntegerTier.AvxVnni: Run<VectorSums<VnniDot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Avx2: Run<VectorSums<Avx2Dot>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Vector256: Run<VectorSums<PortableDot>>(row, q8k, stride, inputs, blocks, output); break;
            default: Run<ScalarSums>(row, q8k, stride, inputs, blocks, output); break;
        }
    }

    private static void Run<TSums>(byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) where TSums : ISums
    {
        var scales = stackalloc int[8];
        var mins = stackalloc int[8];
        var sums = stackalloc float[KQuantRow.MaxInputs];
        var minSums = stackalloc float[KQuantRow.MaxInputs];
        for (var k = 0; k < inputs; k++) sums[k] = minSums[k] = 0;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * 144;
            var table = new ReadOnlySpan<byte>(w + 4, PackedScales6.Bytes);
            for (var s = 0; s < 8; s++) (scales[s], mins[s]) = PackedScales6.Get(table, s);
            var d = KQuantRow.Half(w);
            var dmin = KQuantRow.Half(w + 2);
            for (var k = 0; k < inputs; k++)
            {
                var x = KQuantRow.Activation(q8k, stride, k, b);
                var sumi = TSums.Sumi(w + QuantsOffset, KQuantRow.Quants(x), scales);
                var bsums = KQuantRow.Sums(x);
                var summ = 0;
                for (var s = 0; s < 8; s++) summ += mins[s] * (bsums[2 * s] + bsums[2 * s + 1]);
                var xd = *(float*)x;
                sums[k] += xd * d * sumi;
                minSums[k] += xd * dmin * summ;
            }
        }
        for (var k = 0; k < inputs; k++) output[k] = sums[k] - minSums[k];
    }

    /// <summary>Σ_s scales[s]·Σ_{j∈s} q_j·x_j over one block's 128 quant bytes (|sumi| ≤ 8·63·32·15·127 fits int).</summary>
    private interface ISums
    {
        static abstract int Sumi(byte* qs, sbyte* x, int* scales);
    }

    private readonly struct ScalarSums : ISums
    {
        public static int Sumi(byte* qs, sbyte* x, int* scales)
        {
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
    private readonly struct VectorSums<TDot> : ISums where TDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Sumi(byte* qs, sbyte* x, int* scales)
        {
            var acc = Vector256<int>.Zero;
            var low4 = Vector256.Create((byte)0x0F);
            for (var g = 0; g < 4; g++)
            {
                var q = Vector256.Load(qs + 32 * g);
                acc += TDot.Dot(q & low4, Vector256.Load(x + 64 * g)) * Vector256.Create(scales[2 * g]);
                acc += TDot.Dot(q >>> 4, Vector256.Load(x + 64 * g + 32)) * Vector256.Create(scales[2 * g + 1]);
            }
            return Vector256.Sum(acc);
        }
    }
}
