using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>The byte arithmetic a vector tier provides. <see cref="Dot"/>: Σ u·s over 32 unsigned weight bytes and
/// 32 signed activation bytes, as int32 lanes, each 128-bit half of the result holding (in its four lanes, in some
/// split) the products of the corresponding 16 bytes, so a caller can scale the halves by two different sub-block
/// scales. Callers pass u ≤ 127 so vpmaddubsw's int16 pair sums (≤ 2·127·127) cannot saturate: every tier is then
/// exact. <see cref="Lookup"/>: table[i] per byte, for i in 0…15, with the 16-entry table in both halves.</summary>
internal interface IByteDot
{
    static abstract Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s);

    /// <summary>acc + scale·<see cref="Dot"/>(u, s), the scale given per lane both as int16 (for the x86 tiers, which
    /// fold it into vpmaddwd / vpdpwssd on the int16 pair sums of vpmaddubsw, as llama.cpp does: |pair·scale| ≤
    /// 2·127·127·128 fits int32) and as int32 (for the portable tier); the caller builds both and the JIT drops the
    /// unused one. In both forms lanes 0–7 (int16) or 0–3 (int32) scale the first 16 bytes.</summary>
    static abstract Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32);

    static abstract Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices);
}

internal readonly struct VnniDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);

    /// <summary>vpmaddubsw then vpdpwssd: the scale multiply and the accumulation in one VNNI instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32) =>
        AvxVnni.MultiplyWideningAndAdd(acc, Avx2.MultiplyAddAdjacent(u, s), scale16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices.AsSByte());
}

internal readonly struct Avx2Dot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), scale16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices.AsSByte());
}

internal readonly struct PortableDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s)
    {
        var (u0, u1) = Vector256.Widen(u);
        var (s0, s1) = Vector256.Widen(s);
        var (a, b) = Vector256.Widen(u0.AsInt16() * s0); // bytes 0–15: |u·s| ≤ 255·128 fits int16
        var (c, d) = Vector256.Widen(u1.AsInt16() * s1); // bytes 16–31
        var low = a + b;
        var high = c + d;
        return Vector256.Create(low.GetLower() + low.GetUpper(), high.GetLower() + high.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32) =>
        acc + Dot(u, s) * scale32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Vector256.Shuffle(table, indices.AsSByte());
}

/// <summary>Helpers the K-quant vector sums share.</summary>
internal static unsafe class ByteDots
{
    /// <summary>a_k += scale·Σ u·x_k for each of the <paramref name="inputs"/> activation rows x_k = x + k·stride: the
    /// weight bytes are decoded once by the caller and reused for every input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot>(Vector256<byte> u, sbyte* x, long stride, int inputs, (Vector256<short> Int16, Vector256<int> Int32) scale,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot
    {
        a0 = TDot.DotAdd(a0, u, Vector256.Load(x), scale.Int16, scale.Int32);
        if (inputs == 1) return;
        a1 = TDot.DotAdd(a1, u, Vector256.Load(x + stride), scale.Int16, scale.Int32);
        if (inputs == 2) return;
        a2 = TDot.DotAdd(a2, u, Vector256.Load(x + 2 * stride), scale.Int16, scale.Int32);
        if (inputs == 3) return;
        a3 = TDot.DotAdd(a3, u, Vector256.Load(x + 3 * stride), scale.Int16, scale.Int32);
    }

    /// <summary><see cref="Add{TDot}"/> for signed weights a (|a| ≤ 127): |a| times x with a's sign, llama.cpp's
    /// sign trick.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSigned<TDot>(Vector256<sbyte> a, sbyte* x, long stride, int inputs, (Vector256<short> Int16, Vector256<int> Int32) scale,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot
    {
        var magnitude = Vector256.Abs(a).AsByte();
        var negative = Vector256.LessThan(a, Vector256<sbyte>.Zero);
        a0 = TDot.DotAdd(a0, magnitude, Signed(negative, x), scale.Int16, scale.Int32);
        if (inputs == 1) return;
        a1 = TDot.DotAdd(a1, magnitude, Signed(negative, x + stride), scale.Int16, scale.Int32);
        if (inputs == 2) return;
        a2 = TDot.DotAdd(a2, magnitude, Signed(negative, x + 2 * stride), scale.Int16, scale.Int32);
        if (inputs == 3) return;
        a3 = TDot.DotAdd(a3, magnitude, Signed(negative, x + 3 * stride), scale.Int16, scale.Int32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Signed(Vector256<sbyte> negative, sbyte* x)
    {
        var v = Vector256.Load(x);
        return Vector256.ConditionalSelect(negative, -v, v);
    }

    /// <summary>sumis[k] = the lane sum of a_k, for the inputs there are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(int inputs, int* sumis, Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3)
    {
        sumis[0] = Vector256.Sum(a0);
        if (inputs > 1) sumis[1] = Vector256.Sum(a1);
        if (inputs > 2) sumis[2] = Vector256.Sum(a2);
        if (inputs > 3) sumis[3] = Vector256.Sum(a3);
    }

    /// <summary>One scale for a whole 32-byte run (a 32-value sub-block), in both lane widths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<short>, Vector256<int>) Scale(short scale) => (Vector256.Create(scale), Vector256.Create((int)scale));

    /// <summary>scales[s] for the first 16 bytes' lanes, scales[s+1] for the last 16: the multipliers of a 32-byte run
    /// that spans two 16-value sub-blocks, in both lane widths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<short>, Vector256<int>) Pair(short* scales, int s) =>
        (Vector256.Create(Vector128.Create(scales[s]), Vector128.Create(scales[s + 1])),
         Vector256.Create(Vector128.Create((int)scales[s]), Vector128.Create((int)scales[s + 1])));
}
