using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>One K-quant format's block, as the integer dot sees it: its scale fields decoded to integers, and how
/// its quants relate to the Q8_K block sums.</summary>
internal unsafe interface IKQuantBlock
{
    static abstract int BlockBytes { get; }

    /// <summary>True for the asymmetric formats (value = d·scale·q − dmin·min): the block sums weighted by the mins
    /// make a second integer, scaled by dmin. Otherwise the weighted block sums are subtracted from sumi: the formats
    /// whose kernel multiplies unsigned quants u = q + c (Q6_K c = 32, Q3_K c = 4) weight each sum by c·scale, since
    /// Σ (u − c)·x = Σ u·x − c·bsum.</summary>
    static abstract bool HasMins { get; }

    /// <summary>True where the block sums take part (the mins or an offset); IQ4_XS's signed codebook needs neither.</summary>
    static abstract bool UsesSums { get; }

    /// <summary>Decodes the block's integer sub-block scales into <paramref name="scales"/> (one per sub-block, up to
    /// 16), the weight of each of Q8_K's sixteen 16-value block sums into <paramref name="sumWeights"/> (where
    /// <see cref="UsesSums"/>), and its f32 super-scales (dmin 0 without mins; f16 read through
    /// <see cref="KQuantRow.Half"/>).</summary>
    static abstract void Decode(byte* block, float* halves, short* scales, short* sumWeights, out float d, out float dmin);
}

/// <summary>sumis[k] = Σ_s scales[s]·Σ_{j∈s} u_j·x_k,j over one block, for the activation rows x_k = x + k·stride
/// (k &lt; inputs): the one part of the dot each tier computes its own way. The vector tiers decode each weight
/// vector once for all the inputs.</summary>
internal unsafe interface IKQuantSums
{
    static abstract void Sumi(byte* block, sbyte* x, long stride, int inputs, short* scales, int* sumis);
}

/// <summary>
/// The row loop every K-quant × Q8_K dot shares, the way llama.cpp's x86 ggml_vec_dot_*_q8_K computes it: per block,
/// sumi = Σ_s scale_s·Σ_{j∈s} u_j·x_j and the weighted block sums Σ_r w_r·bsum_r are exact integers, and the row adds
/// (d_x·d)·sumi and subtracts (d_x·dmin)·Σ min·bsum (or folds the offset's sums into sumi) in f32, block by block.
/// Only <see cref="IKQuantSums"/> differs between tiers, and it is exact, so every tier gives the same bits. One call
/// dots a weight row with up to <see cref="MaxInputs"/> activation rows, decoding each weight block once for all of
/// them; each row keeps its own accumulators in the single-row order.
/// </summary>
internal static unsafe class KQuantRow
{
    /// <summary>Activation rows one call takes. Four keeps their q8_K blocks and the weight block in L1 together.</summary>
    public const int MaxInputs = 4;

    private const int Runs = Q8K.BlockValues / Q8K.SumRun;

    /// <summary>The f16 → f32 table (<see cref="RowDot.HalfTable"/>, pinned), read once: a static readonly the JIT
    /// folds, where the property would be a call per row.</summary>
    private static readonly float* Halves = RowDot.HalfTablePtr;

    [SkipLocalsInit] // the per-row scratch below is written before it is read: no need to zero it per call
    public static void Run<TBlock, TSums>(byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
        where TBlock : IKQuantBlock where TSums : IKQuantSums
    {
        if (inputs is < 1 or > MaxInputs) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"1 to {MaxInputs} activation rows per call");
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        var scales = stackalloc short[Runs];
        var sumWeights = stackalloc short[Runs];
        var sumis = stackalloc int[MaxInputs];
        var halves = Halves;
        // One pair of f32 accumulators per input, in locals (registers) rather than an array: a per-block
        // round-trip through memory would put a store-to-load latency on every block's dependency chain.
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * TBlock.BlockBytes;
            TBlock.Decode(w, halves, scales, sumWeights, out var d, out var dmin);
            var x = q8k + (long)b * Q8K.BlockBytes;
            TSums.Sumi(w, (sbyte*)(x + Q8K.QuantsOffset), stride, inputs, scales, sumis);
            var weights = Vector256.Load(sumWeights);
            var (add, minAdd) = Contribution<TBlock>(sumis[0], x, weights, d, dmin);
            s0 += add;
            m0 += minAdd;
            if (inputs == 1) continue;
            (add, minAdd) = Contribution<TBlock>(sumis[1], x + stride, weights, d, dmin);
            s1 += add;
            m1 += minAdd;
            if (inputs == 2) continue;
            (add, minAdd) = Contribution<TBlock>(sumis[2], x + 2 * stride, weights, d, dmin);
            s2 += add;
            m2 += minAdd;
            if (inputs == 3) continue;
            (add, minAdd) = Contribution<TBlock>(sumis[3], x + 3 * stride, weights, d, dmin);
            s3 += add;
            m3 += minAdd;
        }
        output[0] = s0 - m0;
        if (inputs > 1) output[1] = s1 - m1;
        if (inputs > 2) output[2] = s2 - m2;
        if (inputs > 3) output[3] = s3 - m3;
    }

    /// <summary>One block of one input: (d_x·d)·sumi, and for the asymmetric formats (d_x·dmin)·Σ min·bsum (else 0).
    /// Returned, not added through refs: a ref would pin the caller's accumulators to memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Sum, float MinSum) Contribution<TBlock>(int sumi, byte* x, Vector256<short> weights, float d, float dmin)
        where TBlock : IKQuantBlock
    {
        var xd = *(float*)x;
        if (!TBlock.UsesSums) return (xd * d * sumi, 0);
        var weighted = WeightedSums(weights, Vector256.Load((short*)(x + Q8K.SumsOffset)));
        return TBlock.HasMins ? (xd * d * sumi, xd * dmin * weighted) : (xd * d * (sumi - weighted), 0);
    }

    /// <summary>Σ_r w_r·bsum_r over the sixteen block sums, exact (|w·bsum| ≤ 4096·2032): vpmaddwd, or widened.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WeightedSums(Vector256<short> weights, Vector256<short> bsums)
    {
        if (Avx2.IsSupported) return Vector256.Sum(Avx2.MultiplyAddAdjacent(weights, bsums));
        var (w0, w1) = Vector256.Widen(weights);
        var (b0, b1) = Vector256.Widen(bsums);
        return Vector256.Sum(w0 * b0 + w1 * b1);
    }

    /// <summary>Sixteen bytes as sixteen shorts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Shorts(Vector128<sbyte> bytes)
    {
        var (low, high) = Vector128.Widen(bytes);
        return Vector256.Create(low, high);
    }

    /// <summary>The f16 at <paramref name="p"/> as f32, looked up in <paramref name="halves"/>
    /// (<see cref="RowDot.HalfTablePtr"/>: exact, and cheaper than a software convert).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(float* halves, byte* p) => halves[*(ushort*)p];
}
