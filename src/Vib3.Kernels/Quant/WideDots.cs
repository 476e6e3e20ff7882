using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>
/// The <see cref="IntegerTier.Avx512"/> sums: two consecutive 32-value runs per 512-bit instruction (vpmaddubsw, then
/// vpmaddwd against the scales, vpaddd; .NET 10 has no 512-bit VNNI), the first run in the low 256 bits. Folding the
/// halves (low + high) gives each int32 lane the products of bytes 4i…4i+3 of both runs, the lane layout of
/// <see cref="IKQuantSums"/>, exactly, so this tier gives the same bits as the others with half the multiply
/// instructions.
/// </summary>
internal static unsafe class WideDots
{
    /// <summary>a_k += scale·u·x_k as <see cref="ByteDots.Add{TDot, TCount}"/>, 64 bytes at a time; with one input into
    /// the accumulator <paramref name="chain"/> (0 or 1, a constant at the call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TCount>(int chain, Vector512<byte> u, sbyte* x, long stride, int inputs, Vector512<short> scale,
        ref Vector512<int> a0, ref Vector512<int> a1, ref Vector512<int> a2, ref Vector512<int> a3) where TCount : IInputCount
    {
        if (TCount.Count == 1)
        {
            if (chain == 0) a0 += Dot(u, x, scale);
            else a1 += Dot(u, x, scale);
            return;
        }
        a0 += Dot(u, x, scale);
        a1 += Dot(u, x + stride, scale);
        if (TCount.Count == 0 && inputs == 2) return;
        a2 += Dot(u, x + 2 * stride, scale);
        if (TCount.Count == 0 && inputs == 3) return;
        a3 += Dot(u, x + 3 * stride, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot(Vector512<byte> u, sbyte* x, Vector512<short> scale) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, Vector512.Load(x)), scale);

    /// <summary>The 256-bit lanes of each input: the halves folded (one input: its two chains first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lanes<TCount>(Vector512<int> a0, Vector512<int> a1, Vector512<int> a2, Vector512<int> a3,
        out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
    {
        if (TCount.Count == 1) a0 += a1;
        l0 = a0.GetLower() + a0.GetUpper();
        l1 = a1.GetLower() + a1.GetUpper();
        l2 = a2.GetLower() + a2.GetUpper();
        l3 = a3.GetLower() + a3.GetUpper();
    }

    /// <summary>A <see cref="BlockScales"/> table (eight scales per 128 bits) in all four 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Table(Vector256<short> table) => Vector512.Create(table, table);

    /// <summary>The multipliers of runs 2p and 2p+1 of a 128-value half with 16-value sub-blocks (eight scales in
    /// <paramref name="table"/>): 128-bit lane L takes scale 4p + L.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> SubBlockQuad(Vector512<short> table, int p) =>
        Avx512BW.Shuffle(table.AsSByte(), Vector512.Create(
            Vector256.Create(Vector128.Create(Control(4 * p)), Vector128.Create(Control(4 * p + 1))),
            Vector256.Create(Vector128.Create(Control(4 * p + 2)), Vector128.Create(Control(4 * p + 3)))).AsSByte()).AsInt16();

    /// <summary>The byte-shuffle control that picks int16 <paramref name="k"/> of a 128-bit lane: bytes 2k, 2k+1.</summary>
    private static short Control(int k) => (short)(0x0100 + 0x0202 * k);
}
