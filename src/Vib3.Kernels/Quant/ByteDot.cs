using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>Σ u·s over 32 unsigned weight bytes and 32 signed activation bytes, as int32 lanes: each 128-bit half of
/// the result holds (in its four lanes, in some split) the products of the corresponding 16 bytes, so a caller can
/// scale the halves by two different sub-block scales. Callers pass u ≤ 127 so vpmaddubsw's int16 pair sums
/// (≤ 2·127·127) cannot saturate: every tier is then exact.</summary>
internal interface IByteDot
{
    static abstract Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s);
}

internal readonly struct VnniDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
}

internal readonly struct Avx2Dot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
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
}
