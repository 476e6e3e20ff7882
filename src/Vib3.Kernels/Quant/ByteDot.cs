using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>The byte arithmetic a vector tier provides, every operation exact and with x86's lane layout, so all
/// tiers put the same integers in the same lanes. <see cref="DotAdd"/>: int32 lane i of the result is acc_i +
/// scale_{2i}·(u_{4i}·s_{4i} + u_{4i+1}·s_{4i+1}) + scale_{2i+1}·(u_{4i+2}·s_{4i+2} + u_{4i+3}·s_{4i+3}) over 32
/// unsigned weight bytes u, 32 signed activation bytes s and 16 int16 multipliers (vpmaddubsw, then vpmaddwd against
/// the scales, as llama.cpp does). Callers pass u ≤ 127 and s ≥ −127, so a pair sum (≤ 2·127·127) cannot saturate
/// int16, and |scale| ≤ 128 keeps every lane in int32. <see cref="PairDot"/>: lane i = a_{2i}·b_{2i} +
/// a_{2i+1}·b_{2i+1} (vpmaddwd). <see cref="Lookup"/>: table[i] per byte, for i in 0…15, with the 16-entry table in
/// both halves. <see cref="Sign"/>: x with a's sign (−x where a &lt; 0; where a = 0 either x or 0, which |a| = 0
/// makes the same).</summary>
internal interface IByteDot
{
    static abstract Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale);

    static abstract Vector256<int> PairDot(Vector256<short> a, Vector256<short> b);

    static abstract Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices);

    static abstract Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a);
}

/// <summary>The x86 tiers (<see cref="IntegerTier.AvxVnni"/>, <see cref="IntegerTier.Avx2"/>): vpmaddubsw for the pair
/// sums, vpmaddwd, vpshufb and vpsignb; they differ only in how the pair sums meet the scales
/// (<typeparamref name="TScaledAdd"/>).</summary>
internal readonly struct X86Dot<TScaledAdd> : IByteDot where TScaledAdd : IScaledAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale) =>
        TScaledAdd.Add(acc, Avx2.MultiplyAddAdjacent(u, s), scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PairDot(Vector256<short> a, Vector256<short> b) => Avx2.MultiplyAddAdjacent(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a) => Avx2.Sign(x, a);
}

/// <summary>acc + <see cref="IByteDot.PairDot"/>(pairs, scale): the step after vpmaddubsw in <see cref="X86Dot{TScaledAdd}"/>.</summary>
internal interface IScaledAdd
{
    static abstract Vector256<int> Add(Vector256<int> acc, Vector256<short> pairs, Vector256<short> scale);
}

/// <summary>AVX-VNNI: vpdpwssd multiplies the pair sums by the scales and accumulates in one instruction.
/// (vpdpbusd would sum four u8·s8 products in one step, but the sub-block scale would then need a separate vpmulld.)</summary>
internal readonly struct VnniScaledAdd : IScaledAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Add(Vector256<int> acc, Vector256<short> pairs, Vector256<short> scale) =>
        AvxVnni.MultiplyWideningAndAdd(acc, pairs, scale);
}

/// <summary>AVX2: vpmaddwd against the scales, then vpaddd.</summary>
internal readonly struct Avx2ScaledAdd : IScaledAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Add(Vector256<int> acc, Vector256<short> pairs, Vector256<short> scale) =>
        acc + Avx2.MultiplyAddAdjacent(pairs, scale);
}

/// <summary>Portable Vector256 (NEON or any accelerated Vector256): the x86 pair sums rebuilt from shifts, so the
/// lanes hold what vpmaddubsw and vpmaddwd would put there.</summary>
internal readonly struct PortableDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale)
    {
        // Int16 element k holds bytes 2k (low) and 2k+1 (high): u unsigned, s signed.
        var u16 = u.AsInt16();
        var s16 = s.AsInt16();
        var pairs = (u16 & Vector256.Create((short)0xFF)) * ((s16 << 8) >> 8) + (u16 >>> 8) * (s16 >> 8);
        return acc + PairDot(pairs, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PairDot(Vector256<short> a, Vector256<short> b)
    {
        // Int32 element i holds int16s 2i (low) and 2i+1 (high), both signed.
        var a32 = a.AsInt32();
        var b32 = b.AsInt32();
        return ((a32 << 16) >> 16) * ((b32 << 16) >> 16) + (a32 >> 16) * (b32 >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Vector256.Shuffle(table, indices.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a) =>
        Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256<sbyte>.Zero), -x, x);
}

/// <summary>How many activation rows a block's sums serve, fixed per compiled loop where it can be: one input spreads
/// a block's runs over independent accumulators (one chain of dependent vpdpwssd per block would leave the multipliers
/// idle); four (the batch's case) are independent chains already, one per input, and need no branch on the count;
/// <see cref="Count"/> 0: two or three, read from the call's inputs.</summary>
internal interface IInputCount
{
    static abstract int Count { get; }
}

internal readonly struct OneInput : IInputCount
{
    public static int Count => 1;
}

internal readonly struct FourInputs : IInputCount
{
    public static int Count => 4;
}

internal readonly struct SomeInputs : IInputCount
{
    public static int Count => 0;
}

/// <summary>Helpers the K-quant vector sums share.</summary>
internal static unsafe class ByteDots
{
    /// <summary>Adds scale·u·x_k to the accumulators for each of the <paramref name="inputs"/> activation rows
    /// x_k = x + k·stride, decoding the weight bytes u once for all of them: with one input into the accumulator
    /// <paramref name="chain"/> (0–3, a constant at the call), with several input k's into a_k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(int chain, Vector256<byte> u, sbyte* x, long stride, int inputs, Vector256<short> scale,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount
    {
        if (TCount.Count == 1)
        {
            AddTo<TDot>(chain, u, Vector256.Load(x), scale, ref a0, ref a1, ref a2, ref a3);
            return;
        }
        a0 = TDot.DotAdd(a0, u, Vector256.Load(x), scale);
        a1 = TDot.DotAdd(a1, u, Vector256.Load(x + stride), scale);
        if (TCount.Count == 0 && inputs == 2) return;
        a2 = TDot.DotAdd(a2, u, Vector256.Load(x + 2 * stride), scale);
        if (TCount.Count == 0 && inputs == 3) return;
        a3 = TDot.DotAdd(a3, u, Vector256.Load(x + 3 * stride), scale);
    }

    /// <summary><see cref="Add{TDot, TCount}"/> for signed weights a (|a| ≤ 127): |a| times x with a's sign,
    /// llama.cpp's sign trick.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSigned<TDot, TCount>(int chain, Vector256<sbyte> a, sbyte* x, long stride, int inputs, Vector256<short> scale,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount =>
        AddWithSigns<TDot, TCount>(chain, Vector256.Abs(a).AsByte(), a, x, stride, inputs, scale, ref a0, ref a1, ref a2, ref a3);

    /// <summary><see cref="Add{TDot, TCount}"/> for weights given as magnitudes (≤ 127) and signs apart, as the
    /// lattice formats store them: the magnitude times x with the sign's sign (<see cref="IByteDot.Sign"/>; a sign
    /// byte may be 0 only where the magnitude is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWithSigns<TDot, TCount>(int chain, Vector256<byte> magnitude, Vector256<sbyte> signs, sbyte* x, long stride, int inputs,
        Vector256<short> scale, ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        if (TCount.Count == 1)
        {
            AddTo<TDot>(chain, magnitude, TDot.Sign(Vector256.Load(x), signs), scale, ref a0, ref a1, ref a2, ref a3);
            return;
        }
        a0 = TDot.DotAdd(a0, magnitude, TDot.Sign(Vector256.Load(x), signs), scale);
        a1 = TDot.DotAdd(a1, magnitude, TDot.Sign(Vector256.Load(x + stride), signs), scale);
        if (TCount.Count == 0 && inputs == 2) return;
        a2 = TDot.DotAdd(a2, magnitude, TDot.Sign(Vector256.Load(x + 2 * stride), signs), scale);
        if (TCount.Count == 0 && inputs == 3) return;
        a3 = TDot.DotAdd(a3, magnitude, TDot.Sign(Vector256.Load(x + 3 * stride), signs), scale);
    }

    /// <summary>a_chain += scale·u·s. Assignments, not a returned ref: a ref to a local would pin it to memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo<TDot>(int chain, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot
    {
        if (chain == 0) a0 = TDot.DotAdd(a0, u, s, scale);
        else if (chain == 1) a1 = TDot.DotAdd(a1, u, s, scale);
        else if (chain == 2) a2 = TDot.DotAdd(a2, u, s, scale);
        else a3 = TDot.DotAdd(a3, u, s, scale);
    }

    /// <summary>The lanes of input k after a block: one input's chains summed (exact), or a_k itself.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lanes<TCount>(ref Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3) where TCount : IInputCount
    {
        if (TCount.Count == 1) a0 = (a0 + a1) + (a2 + a3);
    }

    /// <summary>The multipliers of a run that is the whole 32-value sub-block <paramref name="s"/> (0–7) of an
    /// eight-scale <paramref name="table"/> (<see cref="BlockScales"/>): scale s in every int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> SubBlock<TDot>(Vector256<short> table, int s) where TDot : IByteDot =>
        TDot.Lookup(table.AsSByte(), Vector256.Create((short)(0x0100 + 0x0202 * s)).AsByte()).AsInt16();

    /// <summary>The multipliers of run <paramref name="j"/> (0–3) of a 128-value half whose eight 16-value
    /// sub-block scales are <paramref name="table"/>: scale 2j for the run's first 16 bytes (the low 128-bit half),
    /// 2j+1 for its last 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> SubBlockPair<TDot>(Vector256<short> table, int j) where TDot : IByteDot =>
        TDot.Lookup(table.AsSByte(), Vector256.Create(Vector128.Create((short)(0x0100 + 0x0404 * j)), Vector128.Create((short)(0x0302 + 0x0404 * j))).AsByte()).AsInt16();
}
