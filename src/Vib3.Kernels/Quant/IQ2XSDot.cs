using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ2_XS weights · Q8_K activations (<see cref="KQuantRow"/>): 32 groups of eight values, each a 16-bit word
/// (<see cref="IQ2XS"/>: a 9-bit <see cref="IQGrids.IQ2XS"/> row and seven stored sign bits), sixteen 16-value
/// sub-blocks with 4-bit scales s. Value = (d/8)·(2s + 1)·(±grid): integer scale 2s + 1, float d/8.</summary>
internal readonly unsafe struct IQ2XSDot : IKQuantFormat, IEightRuns
{
    private const int ScalesOffset = 66;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ2_XS.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ2XSDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 74;
    public static bool UsesSums => false;
    public static int SubBlockValues => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        d = KQuantRow.Half(halves, block) * 0.125f;
        dmin = 0;
        return EightRuns.OddNibbles16(block + ScalesOffset);
    }

    /// <summary>Value 8g + j: byte j of the row in bits 0–8 of word g, negated where bit j of the even-parity
    /// completion of its bits 9–15 is set.</summary>
    public static int Quant(byte* block, int p)
    {
        var word = *(ushort*)(block + 2 + 2 * (p / 8));
        var magnitude = (sbyte)(IQGrids.IQ2XS[word & 511] >> (8 * (p % 8)));
        return (IQLattice.EvenParitySigns(word >> 9) >> (p % 8) & 1) != 0 ? -magnitude : magnitude;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ2XSDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r is words 4r … 4r + 3, read as one 64-bit load.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var words = *(ulong*)(block + 2 + 8 * r);
        var magnitudes = EightRuns.Rows(EightRuns.Iq2Xs, (uint)words & 511, (uint)(words >> 16) & 511, (uint)(words >> 32) & 511, (uint)(words >> 48) & 511);
        var signs = EightRuns.Rows(EightRuns.EvenSigns, (uint)(words >> 9) & 127, (uint)(words >> 25) & 127, (uint)(words >> 41) & 127, (uint)(words >> 57)).AsSByte();
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, signs, x + 32 * r, stride, inputs, EightRuns.PairScale<TDot>(scales, r),
            ref a0, ref a1, ref a2, ref a3);
    }
}
