using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ3_XXS weights · Q8_K activations (<see cref="KQuantRow"/>): 64 groups of four values, each a byte
/// pointing at an <see cref="IQGrids.IQ3XXS"/> row, and per 32-value sub-block a 32-bit word of four 7-bit sign fields
/// (one per eight values) and a 4-bit scale s (<see cref="IQ3XXS"/>). Value = d·(0.5 + s)·0.5·(±grid) =
/// (d/4)·(2s + 1)·(±grid): integer scale 2s + 1, float d/4.</summary>
internal readonly unsafe struct IQ3XXSDot : IKQuantFormat, IEightRuns
{
    private const int RowsOffset = 2;
    private const int WordsOffset = 66;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ3_XXS.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ3XXSDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 98;
    public static bool UsesSums => false;
    public static int SubBlockValues => 32;

    /// <summary>The eight scale/sign words are contiguous: one load, shifted and narrowed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var words = Vector256.Load((uint*)(block + WordsOffset)) >>> 28;
        var s = Vector256.Narrow(words, words).GetLower().AsInt16();
        d = KQuantRow.Half(halves, block) * 0.25f;
        dmin = 0;
        return EightRuns.Eight(s + s + Vector128<short>.One);
    }

    /// <summary>Value 4g + k (sub-block r = g/8): byte k of the row byte g points at, negated where bit p mod 8 of
    /// the even-parity completion of sign field (p mod 32)/8 of word r is set.</summary>
    public static int Quant(byte* block, int p)
    {
        var magnitude = (sbyte)(IQGrids.IQ3XXS[block[RowsOffset + p / 4]] >> (8 * (p % 4)));
        var word = *(uint*)(block + WordsOffset + 4 * (p / 32));
        var signs = IQLattice.EvenParitySigns((int)(word >> (7 * (p % 32 / 8))) & 127);
        return (signs >> (p % 8) & 1) != 0 ? -magnitude : magnitude;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ3XXSDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: the rows of the eight bytes at 2 + 8r as eight 32-bit lanes, the signs of word r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var rows = block + RowsOffset + 8 * r;
        var grid = EightRuns.Iq3Xxs;
        var magnitudes = Vector256.Create(grid[rows[0]], grid[rows[1]], grid[rows[2]], grid[rows[3]],
            grid[rows[4]], grid[rows[5]], grid[rows[6]], grid[rows[7]]).AsByte();
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, EightRuns.EvenParity(*(uint*)(block + WordsOffset + 4 * r)), x + 32 * r,
            stride, inputs, ByteDots.SubBlock<TDot>(scales.Low, r), ref a0, ref a1, ref a2, ref a3);
    }
}
