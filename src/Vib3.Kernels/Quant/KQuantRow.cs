using System.Runtime.CompilerServices;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>One K-quant format's block, as the integer dot sees it: its scale fields decoded to integers, and how
/// its quants relate to the Q8_K block sums.</summary>
internal unsafe interface IKQuantBlock
{
    static abstract int BlockBytes { get; }

    /// <summary>Values sharing one scale: 16 or 32, i.e. one or two of Q8_K's 16-value block sums.</summary>
    static abstract int SubBlockValues { get; }

    /// <summary>The constant the kernel's unsigned quants exceed the format's signed ones by (Q6_K 32, Q3_K 4, else
    /// 0): Σ (u − c)·x = Σ u·x − c·bsum, so the vector code multiplies unsigned bytes.</summary>
    static abstract int QuantOffset { get; }

    /// <summary>True for the asymmetric formats (value = d·scale·q − dmin·min).</summary>
    static abstract bool HasMins { get; }

    /// <summary>The block's integer sub-block scales (and mins) and its f32 super-scales (dmin 0 without mins).</summary>
    static abstract void Decode(byte* block, int* scales, int* mins, out float d, out float dmin);
}

/// <summary>Σ_s scales[s]·Σ_{j∈s} u_j·x_j over one block: the one part of the dot each tier computes its own way.</summary>
internal unsafe interface IKQuantSums
{
    static abstract int Sumi(byte* block, sbyte* x, int* scales);
}

/// <summary>
/// The row loop every K-quant × Q8_K dot shares, the way llama.cpp's x86 ggml_vec_dot_*_q8_K computes it: per block,
/// sumi = Σ_s scale_s·(Σ_{j∈s} u_j·x_j − c·bsum_s) and summ = Σ_s min_s·bsum_s are exact integers, and the row adds
/// (d_x·d)·sumi and subtracts (d_x·dmin)·summ in f32, block by block. Only <see cref="IKQuantSums"/> differs between
/// tiers, and it is exact, so every tier gives the same bits. One call dots a weight row with up to
/// <see cref="MaxInputs"/> activation rows, decoding each weight block's scales once for all of them; each row keeps
/// its own accumulators in the single-row order.
/// </summary>
internal static unsafe class KQuantRow
{
    /// <summary>Activation rows one call takes. Four keeps their q8_K blocks and the weight block in L1 together.</summary>
    public const int MaxInputs = 4;

    private const int MaxSubBlocks = Q8K.BlockValues / Q8K.SumRun;

    public static void Run<TBlock, TSums>(byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
        where TBlock : IKQuantBlock where TSums : IKQuantSums
    {
        if (inputs is < 1 or > MaxInputs) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"1 to {MaxInputs} activation rows per call");
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        var scales = stackalloc int[MaxSubBlocks];
        var mins = stackalloc int[MaxSubBlocks];
        var sums = stackalloc float[MaxInputs];
        var minSums = stackalloc float[MaxInputs];
        for (var k = 0; k < inputs; k++) sums[k] = minSums[k] = 0;
        var subBlocks = Q8K.BlockValues / TBlock.SubBlockValues;
        var runs = TBlock.SubBlockValues / Q8K.SumRun;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * TBlock.BlockBytes;
            TBlock.Decode(w, scales, mins, out var d, out var dmin);
            for (var k = 0; k < inputs; k++)
            {
                var x = q8k + k * stride + (long)b * Q8K.BlockBytes;
                var bsums = (short*)(x + Q8K.SumsOffset);
                var sumi = TSums.Sumi(w, (sbyte*)(x + Q8K.QuantsOffset), scales);
                var xd = *(float*)x;
                if (TBlock.QuantOffset != 0)
                {
                    var offsets = 0;
                    for (var s = 0; s < subBlocks; s++) offsets += scales[s] * RunSum(bsums, s, runs);
                    sumi -= TBlock.QuantOffset * offsets;
                }
                sums[k] += xd * d * sumi;
                if (TBlock.HasMins)
                {
                    var summ = 0;
                    for (var s = 0; s < subBlocks; s++) summ += mins[s] * RunSum(bsums, s, runs);
                    minSums[k] += xd * dmin * summ;
                }
            }
        }
        for (var k = 0; k < inputs; k++) output[k] = sums[k] - minSums[k];
    }

    /// <summary>Σ of the activation quants of sub-block <paramref name="s"/>: its <paramref name="runs"/> block sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RunSum(short* bsums, int s, int runs) => runs == 1 ? bsums[s] : bsums[2 * s] + bsums[2 * s + 1];

    /// <summary>The f16 at <paramref name="p"/> as f32 (table lookup: exact, and cheaper than a software convert).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(byte* p) => RowDot.HalfTablePtr[*(ushort*)p];
}
