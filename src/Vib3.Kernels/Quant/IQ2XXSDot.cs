using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ2_XXS weights · Q8_K activations (<see cref="KQuantRow"/>): eight 32-value sub-blocks, each an 8-byte
/// record (<see cref="IQ2XXS"/>): four <see cref="IQGrids.IQ2XXS"/> rows (magnitudes 8, 25, 43), their seven stored
/// sign bits each, and a 4-bit scale s. Value = d·(0.5 + s)·0.25·(±grid) = (d/8)·(2s + 1)·(±grid): the integer scale is
/// 2s + 1 and the block's float d/8 (exact: a power of two).</summary>
internal readonly unsafe struct IQ2XXSDot : IKQuantFormat, IEightRuns
{
    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ2_XXS.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ2XXSDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 66;
    public static bool UsesSums => false;
    public static int SubBlockValues => 32;

    /// <summary>Scale s of sub-block r is the top nibble of the record's sign word, the top nibble of the 64-bit word
    /// at 2 + 8r: eight such words in two vectors, shifted and narrowed to eight int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var records = Vector256.Narrow(Vector256.Load((ulong*)(block + 2)) >>> 60, Vector256.Load((ulong*)(block + 34)) >>> 60);
        var s = Vector256.Narrow(records, records).GetLower().AsInt16();
        d = KQuantRow.Half(halves, block) * 0.125f;
        dmin = 0;
        return EightRuns.Eight(s + s + Vector128<short>.One);
    }

    /// <summary>Value 32r + 8l + j: byte j of the row that record r's byte l points at, negated where bit j of the
    /// even-parity completion of the record's sign field l is set.</summary>
    public static int Quant(byte* block, int p)
    {
        int r = p / 32, l = p % 32 / 8, j = p % 8;
        var record = block + 2 + 8 * r;
        var magnitude = (sbyte)(IQGrids.IQ2XXS[record[l]] >> (8 * j));
        var signs = IQLattice.EvenParitySigns((int)(*(uint*)(record + 4) >> (7 * l)) & 127);
        return (signs >> j & 1) != 0 ? -magnitude : magnitude;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ2XXSDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r is record r: its four rows as 64-bit lanes (each row byte one load), its signs from
    /// <see cref="EightRuns.EvenSigns"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var record = block + 2 + 8 * r;
        var magnitudes = EightRuns.Rows(EightRuns.Iq2Xxs, record[0], record[1], record[2], record[3]);
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, EightRuns.EvenParity(*(uint*)(record + 4)), x + 32 * r, stride, inputs,
            ByteDots.SubBlock<TDot>(scales.Low, r), ref a0, ref a1, ref a2, ref a3);
    }
}
