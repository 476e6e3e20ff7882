using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>The byte arithmetic a vector tier provides. <see cref="DotAdd"/>: acc + scale·Σ u·s over 32 unsigned
/// weight bytes u and 32 signed activation bytes s, where each 128-bit half of the int32 result holds the products of
/// the corresponding 16 bytes (on x86, lane i those of bytes 4i…4i+3), so a 32-byte run can span two 16-value
/// sub-blocks with two scales. The scale comes per lane both as int16 (for the x86 tiers, which fold it into the
/// vpmaddwd / vpdpwssd of vpmaddubsw's int16 pair sums, as llama.cpp does) and as int32 (for the portable tier); the
/// caller builds both and the JIT drops the unused one. Callers pass u ≤ 127 and s ≥ −127, so a pair sum
/// (≤ 2·127·127) cannot saturate int16 and pair·scale (|scale| ≤ 128) fits int32: every tier is exact.
/// <see cref="Lookup"/>: table[i] per byte, for i in 0…15, with the 16-entry table in both halves.
/// <see cref="Sign"/>: x with a's sign (−x where a &lt; 0; where a = 0 either x or 0, which |a| = 0 makes the same).</summary>
internal interface IByteDot
{
    static abstract Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32);

    static abstract Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices);

    static abstract Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a);
}

/// <summary>AVX-VNNI: vpmaddubsw, then vpdpwssd multiplies the pair sums by the scales and accumulates in one
/// instruction. (vpdpbusd would sum four u8·s8 products in one step, but the sub-block scale would then need a
/// separate vpmulld.)</summary>
internal readonly struct VnniDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32) =>
        AvxVnni.MultiplyWideningAndAdd(acc, Avx2.MultiplyAddAdjacent(u, s), scale16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a) => Avx2.Sign(x, a);
}

/// <summary>AVX2: vpmaddubsw, vpmaddwd against the scales, vpaddd.</summary>
internal readonly struct Avx2Dot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), scale16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Avx2.Shuffle(table, indices.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a) => Avx2.Sign(x, a);
}

/// <summary>Portable Vector256 (NEON or any accelerated Vector256): widen to int16, multiply, widen to int32.</summary>
internal readonly struct PortableDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale16, Vector256<int> scale32)
    {
        var (u0, u1) = Vector256.Widen(u);
        var (s0, s1) = Vector256.Widen(s);
        var (a, b) = Vector256.Widen(u0.AsInt16() * s0); // bytes 0–15: |u·s| ≤ 255·128 fits int16
        var (c, d) = Vector256.Widen(u1.AsInt16() * s1); // bytes 16–31
        var low = a + b;
        var high = c + d;
        return acc + Vector256.Create(low.GetLower() + low.GetUpper(), high.GetLower() + high.GetUpper()) * scale32;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup(Vector256<sbyte> table, Vector256<byte> indices) => Vector256.Shuffle(table, indices.AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign(Vector256<sbyte> x, Vector256<sbyte> a) =>
        Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256<sbyte>.Zero), -x, x);
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
        a0 = TDot.DotAdd(a0, magnitude, TDot.Sign(Vector256.Load(x), a), scale.Int16, scale.Int32);
        if (inputs == 1) return;
        a1 = TDot.DotAdd(a1, magnitude, TDot.Sign(Vector256.Load(x + stride), a), scale.Int16, scale.Int32);
        if (inputs == 2) return;
        a2 = TDot.DotAdd(a2, magnitude, TDot.Sign(Vector256.Load(x + 2 * stride), a), scale.Int16, scale.Int32);
        if (inputs == 3) return;
        a3 = TDot.DotAdd(a3, magnitude, TDot.Sign(Vector256.Load(x + 3 * stride), a), scale.Int16, scale.Int32);
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
