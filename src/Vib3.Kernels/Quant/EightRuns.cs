using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>A format whose block is read as eight 32-value runs, each rebuilt in registers on its own (the lattice
/// formats IQ2/IQ3/IQ1): run r holds values 32r … 32r + 31, byte k of its vector value 32r + k.</summary>
internal unsafe interface IEightRuns
{
    /// <summary>Writes the block's codebook row numbers into <paramref name="numbers"/> (room for
    /// <see cref="RowNumbers.Capacity"/>), where a format assembles them from bit fields: with vector shifts and masks
    /// for the whole block at once, so that a run reads each with one load instead of a chain of scalar shifts. A
    /// format whose runs read their rows' bytes directly keeps this default, which writes nothing.</summary>
    static virtual void Prepare(byte* block, ushort* numbers)
    {
    }

    /// <summary>Adds run <paramref name="r"/> (a constant at the call, so its offsets and scale shuffle fold) with
    /// <see cref="ByteDots"/>' conventions: with one input into chain r % 4.</summary>
    static abstract void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount;
}

/// <summary>A block's row numbers (<see cref="IEightRuns.Prepare"/>): a local whose address is taken, so it lives in
/// the kernel's frame (no allocation per block) and a run reads each number with one load.</summary>
[InlineArray(Capacity)]
internal struct RowNumbers
{
    public const int Capacity = 64;

    private ushort _first;
}

/// <summary>The <see cref="IKQuantFormat.Add{TDot, TCount}"/> of the <see cref="IEightRuns"/> formats, and what their
/// runs share: the pinned codebooks, the sign vectors and the scale decoding.</summary>
internal static unsafe class EightRuns
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TFormat, TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TFormat : IEightRuns where TDot : IByteDot where TCount : IInputCount
    {
        Unsafe.SkipInit(out RowNumbers local); // every number a run reads is written first
        var numbers = (ushort*)&local;
        TFormat.Prepare(block, numbers);
        TFormat.Run<TDot, TCount>(0, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(1, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(2, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(3, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(4, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(5, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(6, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        TFormat.Run<TDot, TCount>(7, block, numbers, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>The multipliers of run <paramref name="r"/> of a format of sixteen 16-value sub-blocks (scales 0–7 in
    /// <see cref="BlockScales.Low"/>, 8–15 in <see cref="BlockScales.High"/>): sub-blocks 2r and 2r + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> PairScale<TDot>(BlockScales scales, int r) where TDot : IByteDot =>
        ByteDots.SubBlockPair<TDot>(r < 4 ? scales.Low : scales.High, r % 4);

    // The codebooks, copied once into pinned arrays (kept referenced here) so a run reads a row with one load.
    private static readonly ulong[] Iq2XxsGrid = Pinned(IQGrids.IQ2XXS);
    private static readonly ulong[] Iq2XsGrid = Pinned(IQGrids.IQ2XS);
    private static readonly ulong[] Iq2SGrid = Pinned(IQGrids.IQ2S);
    private static readonly uint[] Iq3XxsGrid = Pinned(IQGrids.IQ3XXS);
    private static readonly uint[] Iq3SGrid = Pinned(IQGrids.IQ3S);
    private static readonly ulong[] Iq1SGrid = Pinned<ulong>(Offset9(IQGrids.IQ1S));
    private static readonly ulong[] EvenSignsTable = Pinned<ulong>(BuildEvenSigns());

    public static readonly ulong* Iq2Xxs = (ulong*)Unsafe.AsPointer(ref Iq2XxsGrid[0]);
    public static readonly ulong* Iq2Xs = (ulong*)Unsafe.AsPointer(ref Iq2XsGrid[0]);
    public static readonly ulong* Iq2S = (ulong*)Unsafe.AsPointer(ref Iq2SGrid[0]);
    public static readonly uint* Iq3Xxs = (uint*)Unsafe.AsPointer(ref Iq3XxsGrid[0]);
    public static readonly uint* Iq3S = (uint*)Unsafe.AsPointer(ref Iq3SGrid[0]);
    /// <summary>IQ1_S/IQ1_M's codebook as the IQ1 kernels multiply it: each value g (−1, 0, +1) stored as 8g + 9
    /// (1, 9, 17), so a run's unsigned quants 8g + 9 ± 1 are a row plus its shift's ±1.</summary>
    public static readonly ulong* Iq1S = (ulong*)Unsafe.AsPointer(ref Iq1SGrid[0]);

    /// <summary>Entry k (0–127): the sign bytes of a group of eight values whose seven stored sign bits are k (IQ2_XXS,
    /// IQ2_XS, IQ3_XXS): byte j is −1 where bit j of <see cref="IQLattice.EvenParitySigns"/>(k) is set, else +1; one
    /// 64-bit lane of a sign vector for <see cref="IByteDot.Sign"/>.</summary>
    public static readonly ulong* EvenSigns = (ulong*)Unsafe.AsPointer(ref EvenSignsTable[0]);

    private static T[] Pinned<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var array = GC.AllocateUninitializedArray<T>(values.Length, pinned: true);
        values.CopyTo(array);
        return array;
    }

    private static ulong[] Offset9(ReadOnlySpan<ulong> grid)
    {
        var table = new ulong[grid.Length];
        for (var k = 0; k < table.Length; k++)
            for (var j = 0; j < 8; j++) table[k] |= (ulong)(byte)(8 * (sbyte)(grid[k] >> (8 * j)) + 9) << (8 * j);
        return table;
    }

    private static ulong[] BuildEvenSigns()
    {
        var table = new ulong[128];
        for (var k = 0; k < table.Length; k++)
        {
            var signs = IQLattice.EvenParitySigns(k);
            for (var j = 0; j < 8; j++) table[k] |= (ulong)((signs >> j & 1) != 0 ? 0xFF : 0x01) << (8 * j);
        }
        return table;
    }

    /// <summary>Sixteen bytes as sixteen 16-bit lanes, zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> Widen(Vector128<byte> bytes)
    {
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int16(bytes).AsUInt16();
        var (low, high) = Vector128.Widen(bytes);
        return Vector256.Create(low, high);
    }

    /// <summary>Four 64-bit entries of a table, one lane each: four groups' rows of an 8-value codebook (a run's 32
    /// values), or their sign lanes from <see cref="EvenSigns"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Rows(ulong* grid, uint i0, uint i1, uint i2, uint i3) =>
        Vector256.Create(grid[i0], grid[i1], grid[i2], grid[i3]).AsByte();

    /// <summary>The sign vector of four groups whose seven stored sign bits are the 7-bit fields 0, 7, 14 and 21 of
    /// <paramref name="bits"/> (<see cref="EvenSigns"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> EvenParity(uint bits)
    {
        var signs = EvenSigns;
        return Vector256.Create(signs[bits & 127], signs[bits >> 7 & 127], signs[bits >> 14 & 127], signs[bits >> 21 & 127]).AsSByte();
    }

    /// <summary>The sign vector of 32 values from their 32 stored sign bits (bit j of byte i negates value 8i + j:
    /// IQ2_S, IQ3_S): each byte spread over its eight values with a byte shuffle, its own bit picked and compared,
    /// −1 where set and +1 where not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> BitSigns<TDot>(uint bits) where TDot : IByteDot
    {
        var spread = TDot.Lookup(Vector256.Create(bits).AsSByte(),
            Vector256.Create(0x0000000000000000UL, 0x0101010101010101UL, 0x0202020202020202UL, 0x0303030303030303UL).AsByte());
        var bit = Vector256.Create(0x8040201008040201UL).AsSByte();
        return Vector256.Equals(spread & bit, bit) | Vector256<sbyte>.One;
    }

    /// <summary>Sixteen 4-bit scales s, two a byte low nibble first (IQ2_XS, IQ2_S), as the integers 2s + 1 in
    /// order: the <see cref="BlockScales.Low"/> (0–7) and <see cref="BlockScales.High"/> (8–15) tables.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales OddNibbles16(byte* packed)
    {
        const ulong low4 = 0x0F0F0F0F0F0F0F0F;
        var bytes = *(ulong*)packed;
        var nibbles = Vector128.Shuffle(Vector128.Create(bytes & low4, bytes >> 4 & low4).AsByte(),
            Vector128.Create((byte)0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        var odd = KQuantRow.Shorts((nibbles + nibbles + Vector128<byte>.One).AsSByte());
        return new BlockScales(KQuantRow.Both(odd.GetLower()), KQuantRow.Both(odd.GetUpper()), default);
    }

    /// <summary>Eight integer scales as the <see cref="BlockScales.Low"/> table of a format of 32-value sub-blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Eight(Vector128<short> scales) => new(KQuantRow.Both(scales), default, default);
}
