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

/// <summary>The exact integer part of one block, the part each tier computes its own way: int32 lane i (0–7) =
/// Σ_{j=4i}^{4i+3} q_j·x_j, where x86's vpmaddubsw + vpmaddwd (or vpdpbusd) put it.</summary>
internal unsafe interface ILegacySums
{
    static abstract Vector256<int> Lanes<TFormat>(byte* block, sbyte* x) where TFormat : ILegacyFormat;
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
    public static Vector256<int> Lanes<TFormat>(byte* block, sbyte* x) where TFormat : ILegacyFormat
    {
        var q = TFormat.Quants<TDot>(block);
        var xv = Vector256.Load(x);
        return TFormat.Signed ? TQuad.Dot(Vector256.Abs(q).AsByte(), TDot.Sign(xv, q)) : TQuad.Dot(q.AsByte(), xv);
    }
}

/// <summary>The scalar twin: the lane definition written out one product at a time.</summary>
internal readonly unsafe struct LegacyScalarSums : ILegacySums
{
    private const int LaneValues = 4;

    public static Vector256<int> Lanes<TFormat>(byte* block, sbyte* x) where TFormat : ILegacyFormat
    {
        var lanes = stackalloc int[Vector256<int>.Count];
        for (var i = 0; i < Vector256<int>.Count; i++) lanes[i] = 0;
        for (var j = 0; j < DTypes.LegacyBlockSize; j++) lanes[j / LaneValues] += TFormat.Quant(block, j) * x[j];
        return Vector256.Load(lanes);
    }
}

/// <summary>
/// The row loop of the 32-value formats × q8_0 activations, the way llama.cpp's x86 ggml_vec_dot_*_q8_0 computes
/// them: per block, eight int32 lanes of exact products (<see cref="ILegacySums"/>), converted to f32 and added
/// with one fused multiply-add, acc = fma(d_w·d_x, lanes, acc); one horizontal sum per row,
/// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)); the formats with a min add Σ m·s in f32 beside it, as llama.cpp's summs.
/// Block b goes to accumulator b % 4 (lanes and min sums alike), combined as (acc0 + acc2) + (acc1 + acc3) at the end:
/// a block is only ~18 bytes, and one accumulator would make every block wait for the last one's 4-cycle fma.
/// Only <see cref="ILegacySums"/> differs between tiers, and it is exact, so every tier gives the same bits.
/// </summary>
internal static unsafe class LegacyRow
{
    private const int Chains = 4;

    /// <summary>The f16 → f32 table (<see cref="RowDot.HalfTable"/>), read once into a static the JIT folds.</summary>
    private static readonly float* Halves = RowDot.HalfTablePtr;

    /// <summary>Offset of Q4_1's and Q5_1's f16 m in the block (after d).</summary>
    private const int MinOffset = 2;

    /// <summary>One row of <typeparamref name="TFormat"/> (<paramref name="blocks"/> blocks) · q8_0 activations: quants
    /// <paramref name="x"/> [32·blocks], f16-rounded scales <paramref name="xd"/> [blocks], and for the formats with a
    /// min q8_1's f16-rounded block sums <paramref name="xs"/> [blocks], on <paramref name="tier"/>
    /// (<see cref="IntegerTier.Avx512"/> runs the best 256-bit tier). The one tier switch of every format.</summary>
    public static float Dot<TFormat>(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int blocks) where TFormat : ILegacyFormat =>
        IntegerTiers.Narrow(tier) switch
        {
            IntegerTier.AvxVnni => Run<TFormat, LegacyVectorSums<X86Dot<VnniScaledAdd>, VnniQuadDot>>(row, x, xd, xs, blocks),
            IntegerTier.Avx2 => Run<TFormat, LegacyVectorSums<X86Dot<Avx2ScaledAdd>, Avx2QuadDot>>(row, x, xd, xs, blocks),
            IntegerTier.Vector256 => Run<TFormat, LegacyVectorSums<PortableDot, PortableQuadDot>>(row, x, xd, xs, blocks),
            _ => Run<TFormat, LegacyScalarSums>(row, x, xd, xs, blocks),
        };

    private static float Run<TFormat, TSums>(byte* row, sbyte* x, float* xd, float* xs, int blocks)
        where TFormat : ILegacyFormat where TSums : ILegacySums
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        if (TFormat.HasMin && xs == null) throw new ArgumentNullException(nameof(xs), "a format with a min needs q8_1's block sums");
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        // Pointers bumped per group of four blocks, so every block's fields are constant displacements.
        var b = 0;
        for (; b + Chains <= blocks; b += Chains, row += Chains * TFormat.BlockBytes, x += Chains * DTypes.LegacyBlockSize, xd += Chains, xs += Chains)
        {
            a0 = Block<TFormat, TSums>(a0, ref m0, row, x, xd, xs, 0);
            a1 = Block<TFormat, TSums>(a1, ref m1, row, x, xd, xs, 1);
            a2 = Block<TFormat, TSums>(a2, ref m2, row, x, xd, xs, 2);
            a3 = Block<TFormat, TSums>(a3, ref m3, row, x, xd, xs, 3);
        }
        if (b < blocks) a0 = Block<TFormat, TSums>(a0, ref m0, row, x, xd, xs, 0);
        if (b + 1 < blocks) a1 = Block<TFormat, TSums>(a1, ref m1, row, x, xd, xs, 1);
        if (b + 2 < blocks) a2 = Block<TFormat, TSums>(a2, ref m2, row, x, xd, xs, 2);
        var sum = Reduce((a0 + a2) + (a1 + a3));
        return TFormat.HasMin ? sum + ((m0 + m2) + (m1 + m3)) : sum;
    }

    /// <summary>Block <paramref name="k"/> (a constant at each call) of the group at <paramref name="row"/> added to its
    /// lane accumulator (returned) and, with a min, its m·s to <paramref name="mins"/>: a product then a sum, two
    /// roundings in every tier (the JIT does not contract them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block<TFormat, TSums>(Vector256<float> acc, ref float mins, byte* row, sbyte* x, float* xd, float* xs, int k)
        where TFormat : ILegacyFormat where TSums : ILegacySums
    {
        var w = row + k * TFormat.BlockBytes;
        var lanes = TSums.Lanes<TFormat>(w, x + k * DTypes.LegacyBlockSize);
        if (TFormat.HasMin) mins += Halves[*(ushort*)(w + MinOffset)] * xs[k];
        return Vector256.FusedMultiplyAdd(Vector256.Create(Halves[*(ushort*)w] * xd[k]), Vector256.ConvertToSingle(lanes), acc);
    }

    /// <summary>((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)): llama.cpp's hsum_float_8 order, the K-quant rows' too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(Vector256<float> a)
    {
        var four = a.GetLower() + a.GetUpper();
        var two = four + Vector128.Shuffle(four, Vector128.Create(2, 3, 0, 1));
        return two.ToScalar() + two.GetElement(1);
    }
}
