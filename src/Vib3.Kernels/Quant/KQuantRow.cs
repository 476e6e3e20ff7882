using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>A block's decoded scale fields, in registers. <see cref="Low"/>: sub-block scales 0–7 as int16, the same
/// eight in both 128-bit halves (so a per-half byte shuffle, <see cref="IByteDot.Lookup"/>, picks any of them);
/// <see cref="High"/>: scales 8–15 likewise (the sixteen-sub-block formats; unused otherwise);
/// <see cref="SumWeights"/>: the weight of each of Q8_K's sixteen 16-value block sums (where
/// <see cref="IKQuantBlock.UsesSums"/>).</summary>
internal readonly struct BlockScales(Vector256<short> low, Vector256<short> high, Vector256<short> sumWeights)
{
    public readonly Vector256<short> Low = low;
    public readonly Vector256<short> High = high;
    public readonly Vector256<short> SumWeights = sumWeights;

    /// <summary>The scale of sub-block <paramref name="s"/> (0–15).</summary>
    public int Scale(int s) => s < 8 ? Low.GetElement(s) : High.GetElement(s - 8);
}

/// <summary>One K-quant format's block, as the integer dot sees it: its scale fields decoded to integers, and how
/// its quants relate to the Q8_K block sums.</summary>
internal unsafe interface IKQuantBlock
{
    static abstract int BlockBytes { get; }

    /// <summary>True for the asymmetric formats (value = d·scale·q − dmin·min; false, the default, for the others): the block sums weighted by the mins
    /// make a second integer vector, scaled by dmin. Otherwise the weighted block sums are subtracted from the
    /// lanes: the formats whose kernel multiplies unsigned quants u = q + c (Q6_K c = 32, Q3_K c = 4) weight each
    /// sum by c·scale, since Σ (u − c)·x = Σ u·x − c·bsum.</summary>
    static virtual bool HasMins => false;

    /// <summary>With mins: true where the chain adds the mins' term before the scaled sums (Q2_K), false where after
    /// (Q4_K, Q5_K). Each format takes the order of llama.cpp's x86 kernel for it (ggml_vec_dot_q2_K_q8_K adds the
    /// mins first, q4_K and q5_K the scaled sums first), which keeps vib3 within float rounding of llama.cpp where an
    /// activation's Q8_K rounding would otherwise flip (the llama.cpp logits tests).</summary>
    static virtual bool MinsFirst => false;

    /// <summary>True where the block sums take part (the mins or an offset); IQ4_XS's signed codebook needs neither.</summary>
    static abstract bool UsesSums { get; }

    /// <summary>The block's integer scales and its f32 super-scales (dmin 0 without mins; f16 read through
    /// <see cref="KQuantRow.Half"/>).</summary>
    static abstract BlockScales Decode(byte* block, float* halves, out float d, out float dmin);
}

/// <summary>The integer part of one block, the one part each tier computes its own way; exact, so every tier gives
/// the same integers. <see cref="Lanes{TCount}"/>: for each activation row x_k = x + k·stride (k &lt; inputs),
/// int32 lane i (0–7) = Σ over the block's eight 32-value runs r of Σ_{l=4i}^{4i+3} scale(32r+l)·u_{32r+l}·x_k,{32r+l}
/// (scale(p) the scale of the sub-block value p is in; x86's vpmaddubsw/vpmaddwd lane layout).
/// <see cref="WeightedSums"/>: lane i = w_{2i}·bsum_{2i} + w_{2i+1}·bsum_{2i+1} over the sixteen block sums.</summary>
internal unsafe interface IKQuantSums
{
    static abstract void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount;

    static abstract Vector256<int> WeightedSums(Vector256<short> weights, short* bsums);
}

/// <summary>
/// The row loop every K-quant × Q8_K dot shares. Per block, the exact integers: isum = Σ scale·u·x over the block
/// (the offset formats less their weighted block sums, see <see cref="IKQuantBlock.HasMins"/>) and, for the
/// asymmetric formats, msum = Σ min·bsum (the mins' weighted block sums); then ONE scalar f32 chain per (row, input):
/// acc = fma(d_x·d, (float)isum, acc), and with mins acc = fma(d_x·(−dmin), (float)msum, acc), before or after it
/// (<see cref="IKQuantBlock.MinsFirst"/>). The result is acc. The integers are exact however they are summed, so every
/// tier (<see cref="IKQuantSums"/>: scalar, portable, AVX2, AVX-VNNI) gives them alike, and the float chain is per (row,
/// input): a kernel whose vector lanes are inputs (<see cref="LoopFour{TBlock, TSums}"/>) or rows
/// (<see cref="TileDot{TFormat}"/>) computes in each lane exactly this chain, so batched outputs equal this row kernel
/// bit for bit. One call dots a weight row with up to <see cref="MaxInputs"/> activation rows, decoding each weight
/// block once for all of them.
/// </summary>
internal static unsafe class KQuantRow
{
    /// <summary>Activation rows one call takes. Four keeps their q8_K blocks and the weight block in L1 together.</summary>
    public const int MaxInputs = 4;

    /// <summary>The f16 → f32 table (<see cref="RowDot.HalfTable"/>, pinned), read once: a static readonly the JIT
    /// folds, where the property would be a call per row.</summary>
    private static readonly float* Halves = RowDot.HalfTablePtr;

    /// <summary>One weight row of <typeparamref name="TFormat"/> against <paramref name="inputs"/> activation rows
    /// (row k at q8k + k·stride) on <paramref name="tier"/> (<see cref="IntegerTier.Avx512"/> runs the best 256-bit
    /// tier): output[k] is bit for bit what any tier gives for row k alone. The one tier switch of every format.</summary>
    public static void Dot<TFormat>(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
        where TFormat : IKQuantFormat
    {
        switch (IntegerTiers.Narrow(tier))
        {
            case IntegerTier.AvxVnni: Run<TFormat, VectorSums<TFormat, X86Dot<VnniScaledAdd>>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Avx2: Run<TFormat, VectorSums<TFormat, X86Dot<Avx2ScaledAdd>>>(row, q8k, stride, inputs, blocks, output); break;
            case IntegerTier.Vector256: Run<TFormat, VectorSums<TFormat, PortableDot>>(row, q8k, stride, inputs, blocks, output); break;
            default: Run<TFormat, ScalarSums<TFormat>>(row, q8k, stride, inputs, blocks, output); break;
        }
    }

    public static void Run<TBlock, TSums>(byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
        where TBlock : IKQuantBlock where TSums : IKQuantSums
    {
        if (inputs is < 1 or > MaxInputs) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"1 to {MaxInputs} activation rows per call");
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        if (inputs == 1) Loop<TBlock, TSums, OneInput>(row, q8k, stride, inputs, blocks, output);
        else if (inputs == 4) LoopFour<TBlock, TSums>(row, q8k, stride, blocks, output);
        else Loop<TBlock, TSums, SomeInputs>(row, q8k, stride, inputs, blocks, output);
    }

    /// <summary>One to three inputs (<see cref="OneInput"/>, or <see cref="SomeInputs"/>: two or three), each its
    /// own scalar chain.</summary>
    private static void Loop<TBlock, TSums, TCount>(byte* row, byte* q8k, long stride, int inputs, int blocks, float* output)
        where TBlock : IKQuantBlock where TSums : IKQuantSums where TCount : IInputCount
    {
        var halves = Halves;
        // One f32 accumulator per input, in locals (registers): a per-block round trip through memory would put a
        // store-to-load latency on every block's dependency chain.
        float f0 = 0, f1 = 0, f2 = 0;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * TBlock.BlockBytes;
            var scales = TBlock.Decode(w, halves, out var d, out var dmin);
            var negativeMin = -dmin;
            var x = q8k + (long)b * Q8K.BlockBytes;
            TSums.Lanes<TCount>(w, (sbyte*)(x + Q8K.QuantsOffset), stride, inputs, scales, out var l0, out var l1, out var l2, out _);
            f0 = Accumulate<TBlock, TSums>(f0, l0, x, scales.SumWeights, d, negativeMin);
            if (TCount.Count == 1) continue;
            f1 = Accumulate<TBlock, TSums>(f1, l1, x + stride, scales.SumWeights, d, negativeMin);
            if (inputs == 2) continue;
            f2 = Accumulate<TBlock, TSums>(f2, l2, x + 2 * stride, scales.SumWeights, d, negativeMin);
        }
        output[0] = f0;
        if (inputs > 1) output[1] = f1;
        if (inputs > 2) output[2] = f2;
    }

    /// <summary><see cref="Loop{TBlock, TSums, TCount}"/> for four inputs (the batch's case): their integers summed
    /// together, one per lane of a 128-bit vector, so the four canonical chains run as one vector fma per step.</summary>
    private static void LoopFour<TBlock, TSums>(byte* row, byte* q8k, long stride, int blocks, float* output)
        where TBlock : IKQuantBlock where TSums : IKQuantSums
    {
        var halves = Halves;
        var acc = Vector128<float>.Zero;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * TBlock.BlockBytes;
            var scales = TBlock.Decode(w, halves, out var d, out var dmin);
            var x = q8k + (long)b * Q8K.BlockBytes;
            TSums.Lanes<FourInputs>(w, (sbyte*)(x + Q8K.QuantsOffset), stride, 4, scales, out var l0, out var l1, out var l2, out var l3);
            var xd = Vector128.Create(*(float*)x, *(float*)(x + stride), *(float*)(x + 2 * stride), *(float*)(x + 3 * stride));
            if (!TBlock.UsesSums)
            {
                acc = Vector128.FusedMultiplyAdd(xd * d, Vector128.ConvertToSingle(Sums(l0, l1, l2, l3)), acc);
                continue;
            }
            var s0 = TSums.WeightedSums(scales.SumWeights, (short*)(x + Q8K.SumsOffset));
            var s1 = TSums.WeightedSums(scales.SumWeights, (short*)(x + stride + Q8K.SumsOffset));
            var s2 = TSums.WeightedSums(scales.SumWeights, (short*)(x + 2 * stride + Q8K.SumsOffset));
            var s3 = TSums.WeightedSums(scales.SumWeights, (short*)(x + 3 * stride + Q8K.SumsOffset));
            if (!TBlock.HasMins)
            {
                acc = Vector128.FusedMultiplyAdd(xd * d, Vector128.ConvertToSingle(Sums(l0 - s0, l1 - s1, l2 - s2, l3 - s3)), acc);
                continue;
            }
            var isum = Vector128.ConvertToSingle(Sums(l0, l1, l2, l3));
            var msum = Vector128.ConvertToSingle(Sums(s0, s1, s2, s3));
            acc = TBlock.MinsFirst
                ? Vector128.FusedMultiplyAdd(xd * d, isum, Vector128.FusedMultiplyAdd(xd * -dmin, msum, acc))
                : Vector128.FusedMultiplyAdd(xd * -dmin, msum, Vector128.FusedMultiplyAdd(xd * d, isum, acc));
        }
        acc.Store(output);
    }

    /// <summary>Lane k = the lane sum of the k-th vector (exact), by a tree of horizontal adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sums(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        if (!Avx2.IsSupported) return Vector128.Create(Sum(a).ToScalar(), Sum(b).ToScalar(), Sum(c).ToScalar(), Sum(d).ToScalar());
        var all = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a, b), Avx2.HorizontalAdd(c, d));
        return all.GetLower() + all.GetUpper();
    }

    /// <summary>One block of one input (its q8_K block at <paramref name="x"/>) added to its accumulator: the lanes
    /// (and weighted sums) summed to the block's exact integers, converted in a vector register (vcvtdq2ps rounds as
    /// a scalar convert does, without the round trip through a general register), then the canonical float chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Accumulate<TBlock, TSums>(float acc, Vector256<int> lanes, byte* x, Vector256<short> weights,
        float d, float negativeMin) where TBlock : IKQuantBlock where TSums : IKQuantSums
    {
        var xd = *(float*)x;
        if (!TBlock.UsesSums) return Chain(acc, xd * d, Vector128.ConvertToSingle(Sum(lanes)).ToScalar());
        var sums = TSums.WeightedSums(weights, (short*)(x + Q8K.SumsOffset));
        if (!TBlock.HasMins) return Chain(acc, xd * d, Vector128.ConvertToSingle(Sum(lanes - sums)).ToScalar());
        var both = Vector128.ConvertToSingle(Sums(lanes, sums));
        var (isum, msum) = (both.ToScalar(), both.GetElement(1));
        return TBlock.MinsFirst
            ? Chain(Chain(acc, xd * negativeMin, msum), xd * d, isum)
            : Chain(Chain(acc, xd * d, isum), xd * negativeMin, msum);
    }

    /// <summary>acc + scale·integer (an integer the f32 holds as converted), rounded once: the canonical step every
    /// kernel takes per (row, input, block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Chain(float acc, float scale, float integer) => MathF.FusedMultiplyAdd(scale, integer, acc);

    /// <summary>The eight lanes' sum in every lane (exact: integer adds in any order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum(Vector256<int> v)
    {
        var four = v.GetLower() + v.GetUpper();
        var two = four + Vector128.Shuffle(four, Vector128.Create(2, 3, 0, 1));
        return two + Vector128.Shuffle(two, Vector128.Create(1, 0, 3, 2));
    }

    /// <summary>a's lane sum in lane 0, b's in lane 1: horizontal adds pair a's and b's lanes in one register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sums(Vector256<int> a, Vector256<int> b)
    {
        if (!Avx2.IsSupported) return Vector128.Create(Sum(a).ToScalar(), Sum(b).ToScalar(), 0, 0);
        var pairs = Avx2.HorizontalAdd(a, b);
        var four = pairs.GetLower() + pairs.GetUpper();
        return Ssse3.HorizontalAdd(four, four);
    }

    /// <summary>Sixteen bytes as sixteen shorts, sign-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Shorts(Vector128<sbyte> bytes)
    {
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int16(bytes);
        var (low, high) = Vector128.Widen(bytes);
        return Vector256.Create(low, high);
    }

    /// <summary>Eight shorts in both 128-bit halves: a <see cref="BlockScales"/> table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Both(Vector128<short> eight) => Vector256.Create(eight, eight);

    /// <summary>The f16 at <paramref name="p"/> as f32, looked up in <paramref name="halves"/>
    /// (<see cref="RowDot.HalfTablePtr"/>: exact, and cheaper than a software convert).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(float* halves, byte* p) => halves[*(ushort*)p];
}
