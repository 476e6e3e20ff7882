using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;

namespace Vib3.Kernels.Quant;

/// <summary>One 32-value weight format that pairs with q8_0 activations (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL), as the
/// row dot sees it: its f16 scale d first in the block, its 32 integer quants, and whether it has a min.</summary>
internal unsafe interface ILegacyFormat
{
    static abstract int BlockBytes { get; }

    /// <summary>True for Q4_1 and Q5_1 (value = d·q + m, q unsigned): the block adds m·s, s being q8_1's block sum
    /// of the activations; the f16 m sits right after d.</summary>
    static abstract bool HasMin { get; }

    /// <summary>True where the quants are signed (Q4_0 q − 8, Q5_0 q − 16, IQ4_NL's codebook): the vector sums
    /// multiply |q| by x with q's sign (llama.cpp's sign trick), as vpmaddubsw takes one unsigned operand.</summary>
    static abstract bool Signed { get; }

    /// <summary>The block's 32 quants, value j in byte j (signed formats: as sbyte, |q| ≤ 127; unsigned: 0–31
    /// read as sbyte), unpacked with <typeparamref name="TDot"/>'s byte shuffle.</summary>
    static abstract Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot;

    /// <summary>Quant <paramref name="j"/> (0–31) of the block, one at a time: the scalar twin's definition.</summary>
    static abstract int Quant(byte* block, int j);
}

/// <summary>The exact integer part of one block, the part each tier computes its own way: the block's weights are
/// unpacked once (<see cref="Unpack{TFormat}"/>), then for each activation row x, int32 lane i (0–7) of
/// <see cref="Lanes{TFormat}"/> = Σ_{j=4i}^{4i+3} q_j·x_j, where x86's vpmaddubsw + vpmaddwd (or vpdpbusd) put it.</summary>
internal unsafe interface ILegacySums
{
    static abstract LegacyWeights Unpack<TFormat>(byte* block) where TFormat : ILegacyFormat;

    static abstract Vector256<int> Lanes<TFormat>(in LegacyWeights weights, sbyte* x) where TFormat : ILegacyFormat;
}

/// <summary>One block's weights as a tier holds them between rows: the block itself (the scalar twin reads it again
/// per row), its quants q, and the unsigned bytes the products take (|q| for the signed formats, else q).</summary>
internal readonly unsafe struct LegacyWeights(byte* block, Vector256<sbyte> quants, Vector256<byte> unsigned)
{
    public readonly byte* Block = block;
    public readonly Vector256<sbyte> Quants = quants;
    public readonly Vector256<byte> Unsigned = unsigned;
}

/// <summary>lane i = Σ_{j=4i}^{4i+3} u_j·s_j over 32 unsigned bytes u (≤ 127 where the sign trick made them, ≤ 31
/// otherwise) and 32 signed bytes s (≥ −127): no int16 pair sum can saturate, so every form is exact.</summary>
internal interface IQuadDot
{
    static abstract Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s);
}

/// <summary>AVX2: vpmaddubsw, then vpmaddwd against ones.</summary>
internal readonly struct Avx2QuadDot : IQuadDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One);
}

/// <summary>AVX-VNNI: vpdpbusd sums the four byte products of each lane in one instruction (no scale to apply
/// between them, unlike the K-quants' sub-blocks).</summary>
internal readonly struct VnniQuadDot : IQuadDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
}

/// <summary>Portable Vector256: <see cref="PortableDot"/>'s rebuilt pair sums, then pairs of those.</summary>
internal readonly struct PortableQuadDot : IQuadDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        PortableDot.DotAdd(Vector256<int>.Zero, u, s, Vector256<short>.One);
}

/// <summary>The vector tiers' lanes: the format unpacks its quants, and signed ones take the sign trick.</summary>
internal readonly unsafe struct LegacyVectorSums<TDot, TQuad> : ILegacySums where TDot : IByteDot where TQuad : IQuadDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LegacyWeights Unpack<TFormat>(byte* block) where TFormat : ILegacyFormat
    {
        var q = TFormat.Quants<TDot>(block);
        return new LegacyWeights(block, q, TFormat.Signed ? Vector256.Abs(q).AsByte() : q.AsByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Lanes<TFormat>(in LegacyWeights weights, sbyte* x) where TFormat : ILegacyFormat
    {
        var xv = Vector256.Load(x);
        return TQuad.Dot(weights.Unsigned, TFormat.Signed ? TDot.Sign(xv, weights.Quants) : xv);
    }
}

/// <summary>The scalar twin: the lane definition written out one product at a time.</summary>
internal readonly unsafe struct LegacyScalarSums : ILegacySums
{
    private const int LaneValues = 4;

    public static LegacyWeights Unpack<TFormat>(byte* block) where TFormat : ILegacyFormat => new(block, default, default);

    public static Vector256<int> Lanes<TFormat>(in LegacyWeights weights, sbyte* x) where TFormat : ILegacyFormat
    {
        var lanes = stackalloc int[Vector256<int>.Count];
        for (var i = 0; i < Vector256<int>.Count; i++) lanes[i] = 0;
        for (var j = 0; j < DTypes.LegacyBlockSize; j++) lanes[j / LaneValues] += TFormat.Quant(weights.Block, j) * x[j];
        return Vector256.Load(lanes);
    }
}

/// <summary>
/// The row loop of the 32-value formats × q8_0 activations, the way llama.cpp's x86 ggml_vec_dot_*_q8_0 computes
/// them: per block, eight int32 lanes of exact products (<see cref="ILegacySums"/>), converted to f32 and added
/// with one fused multiply-add, acc = fma(d_w·d_x, lanes, acc); one horizontal sum per row,
/// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)); the formats with a min add Σ m·s in f32 beside it, as llama.cpp's summs.
/// Even blocks go to one accumulator and odd blocks to another (lanes and min sums alike), added at the end: a block
/// is only ~18 bytes and ~16 instructions, and with one accumulator every block would wait for the last one's
/// 4-cycle fma. Only <see cref="ILegacySums"/> differs between tiers, and it is exact, so every tier gives the same
/// bits. One call dots a weight row with up to <see cref="MaxInputs"/> activation rows, unpacking each weight block
/// once for all of them; each row keeps its own accumulators in the single-row order.
/// </summary>
internal static unsafe class LegacyRow
{
    /// <summary>Activation rows one call takes: with two chains each, eight lane accumulators and eight min sums,
    /// nearly all in registers (the JIT spills two on x64). <see cref="BlockBatch"/> hands out groups of <see cref="KQuantRow.MaxInputs"/>, the
    /// same four.</summary>
    public const int MaxInputs = 4;

    /// <summary>The f16 → f32 table (<see cref="RowDot.HalfTable"/>), read once into a static the JIT folds.</summary>
    private static readonly float* Halves = RowDot.HalfTablePtr;

    /// <summary>Offset of Q4_1's and Q5_1's f16 m in the block (after d).</summary>
    private const int MinOffset = 2;

    /// <summary>One row of <typeparamref name="TFormat"/> (<paramref name="blocks"/> blocks) · <paramref name="inputs"/>
    /// q8_0 activation rows, row k's quants at x + k·32·blocks, its f16-rounded scales at xd + k·blocks and, for the
    /// formats with a min, q8_1's f16-rounded block sums at xs + k·blocks, on <paramref name="tier"/>
    /// (<see cref="IntegerTier.Avx512"/> runs the best 256-bit tier): output[k] is bit for bit what any tier gives for
    /// row k alone. The one tier switch of every format.</summary>
    public static void Dot<TFormat>(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output)
        where TFormat : ILegacyFormat
    {
        switch (IntegerTiers.Narrow(tier))
        {
            case IntegerTier.AvxVnni: Run<TFormat, LegacyVectorSums<X86Dot<VnniScaledAdd>, VnniQuadDot>>(row, x, xd, xs, inputs, blocks, output); break;
            case IntegerTier.Avx2: Run<TFormat, LegacyVectorSums<X86Dot<Avx2ScaledAdd>, Avx2QuadDot>>(row, x, xd, xs, inputs, blocks, output); break;
            case IntegerTier.Vector256: Run<TFormat, LegacyVectorSums<PortableDot, PortableQuadDot>>(row, x, xd, xs, inputs, blocks, output); break;
            default: Run<TFormat, LegacyScalarSums>(row, x, xd, xs, inputs, blocks, output); break;
        }
    }

    private static void Run<TFormat, TSums>(byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output)
        where TFormat : ILegacyFormat where TSums : ILegacySums
    {
        if (inputs is < 1 or > MaxInputs) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"1 to {MaxInputs} activation rows per call");
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        if (TFormat.HasMin && xs == null) throw new ArgumentNullException(nameof(xs), "a format with a min needs q8_1's block sums");
        if (inputs == 1) Loop<TFormat, TSums, OneInput>(row, x, xd, xs, inputs, blocks, output);
        else if (inputs == 4) Loop<TFormat, TSums, FourInputs>(row, x, xd, xs, inputs, blocks, output);
        else Loop<TFormat, TSums, SomeInputs>(row, x, xd, xs, inputs, blocks, output);
    }

    /// <summary>The two chains of input k: e_k (even blocks) and o_k (odd ones), with their min sums, in locals so
    /// they stay in registers. Pointers move by two blocks per step, so each block's fields are constant
    /// displacements.</summary>
    private static void Loop<TFormat, TSums, TCount>(byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output)
        where TFormat : ILegacyFormat where TSums : ILegacySums where TCount : IInputCount
    {
        long stride = (long)blocks * DTypes.LegacyBlockSize;
        Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        float me0 = 0, me1 = 0, me2 = 0, me3 = 0, mo0 = 0, mo1 = 0, mo2 = 0, mo3 = 0;
        var b = 0;
        for (; b + 2 <= blocks; b += 2, row += 2 * TFormat.BlockBytes, x += 2 * DTypes.LegacyBlockSize, xd += 2, xs += 2)
        {
            Block<TFormat, TSums, TCount>(row, x, xd, xs, stride, blocks, inputs, 0, ref e0, ref e1, ref e2, ref e3, ref me0, ref me1, ref me2, ref me3);
            Block<TFormat, TSums, TCount>(row, x, xd, xs, stride, blocks, inputs, 1, ref o0, ref o1, ref o2, ref o3, ref mo0, ref mo1, ref mo2, ref mo3);
        }
        if (b < blocks)
            Block<TFormat, TSums, TCount>(row, x, xd, xs, stride, blocks, inputs, 0, ref e0, ref e1, ref e2, ref e3, ref me0, ref me1, ref me2, ref me3);
        output[0] = Finish<TFormat>(e0, o0, me0, mo0);
        if (inputs > 1) output[1] = Finish<TFormat>(e1, o1, me1, mo1);
        if (inputs > 2) output[2] = Finish<TFormat>(e2, o2, me2, mo2);
        if (inputs > 3) output[3] = Finish<TFormat>(e3, o3, me3, mo3);
    }

    /// <summary>Block <paramref name="k"/> (0 or 1, a constant at each call) of the pair at <paramref name="row"/>, for
    /// every input i: its lanes into a_i and, with a min, m·s into m_i (a product then a sum, two roundings in every
    /// tier: the JIT does not contract them). Row i's quants are at x + i·<paramref name="stride"/>, its scales and
    /// sums at xd, xs + i·<paramref name="scaleStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block<TFormat, TSums, TCount>(byte* row, sbyte* x, float* xd, float* xs, long stride, long scaleStride, int inputs, int k,
        ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3,
        ref float m0, ref float m1, ref float m2, ref float m3)
        where TFormat : ILegacyFormat where TSums : ILegacySums where TCount : IInputCount
    {
        var block = row + k * TFormat.BlockBytes;
        var weights = TSums.Unpack<TFormat>(block);
        var d = Halves[*(ushort*)block];
        var m = TFormat.HasMin ? Halves[*(ushort*)(block + MinOffset)] : 0;
        x += k * DTypes.LegacyBlockSize;
        xd += k;
        xs += k;
        a0 = Accumulate<TFormat>(a0, ref m0, TSums.Lanes<TFormat>(weights, x), d, m, xd, xs);
        if (TCount.Count == 1) return;
        a1 = Accumulate<TFormat>(a1, ref m1, TSums.Lanes<TFormat>(weights, x + stride), d, m, xd + scaleStride, xs + scaleStride);
        if (TCount.Count == 0 && inputs == 2) return;
        a2 = Accumulate<TFormat>(a2, ref m2, TSums.Lanes<TFormat>(weights, x + 2 * stride), d, m, xd + 2 * scaleStride, xs + 2 * scaleStride);
        if (TCount.Count == 0 && inputs == 3) return;
        a3 = Accumulate<TFormat>(a3, ref m3, TSums.Lanes<TFormat>(weights, x + 3 * stride), d, m, xd + 3 * scaleStride, xs + 3 * scaleStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Accumulate<TFormat>(Vector256<float> acc, ref float mins, Vector256<int> lanes, float d, float m, float* xd, float* xs)
        where TFormat : ILegacyFormat
    {
        if (TFormat.HasMin) mins += m * *xs;
        return Vector256.FusedMultiplyAdd(Vector256.Create(d * *xd), Vector256.ConvertToSingle(lanes), acc);
    }

    /// <summary>A row's result: its chains added lane by lane, one horizontal sum, then its min sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<TFormat>(Vector256<float> even, Vector256<float> odd, float minsEven, float minsOdd) where TFormat : ILegacyFormat
    {
        var sum = Reduce(even + odd);
        return TFormat.HasMin ? sum + (minsEven + minsOdd) : sum;
    }

    /// <summary>((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)): llama.cpp's hsum_float_8 order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(Vector256<float> a)
    {
        var four = a.GetLower() + a.GetUpper();
        var two = four + Vector128.Shuffle(four, Vector128.Create(2, 3, 0, 1));
        return two.ToScalar() + two.GetElement(1);
    }
}
