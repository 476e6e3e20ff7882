using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ1_S weights · Q8_K activations (<see cref="KQuantRow"/>): 32 groups of eight values, each an 11-bit
/// <see cref="IQGrids.IQ1S"/> row of −1/0/+1, and per 32-value sub-block a 3-bit scale s and the sign of a shift
/// δ = ±1/8 (<see cref="IQ1S"/>). Value = d·(2s + 1)·(grid + δ) = (d/8)·(2s + 1)·(8·grid ± 1). The kernel multiplies
/// the unsigned u = 8·grid + 9 ± 1 (0…18) and takes back the offset 9 through the Q8_K block sums, each weighted by
/// 9·(2s + 1), as Q3_K/Q6_K take back theirs: Σ (2s + 1)·(u − 9)·x is the exact integer llama.cpp's dot sums as
/// Σ (2s + 1)·grid·x + δ·Σ (2s + 1)·x, scaled by 8. Integer scale 2s + 1, float d/8.</summary>
internal readonly unsafe struct IQ1SDot : IKQuantFormat, IEightRuns
{
    private const int LowOffset = 2;
    private const int HighOffset = 34;
    private const int Offset = 9;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ1_S.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ1SDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 50;
    public static bool UsesSums => true;
    public static int SubBlockValues => 32;

    /// <summary>Scale s of sub-block r: bits 12–14 of the 16-bit word at 34 + 2r (eight contiguous words, one load);
    /// each scale weighs the sub-block's two 16-value block sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var s = (Vector128.Load((ushort*)(block + HighOffset)) >>> 12 & Vector128.Create((ushort)7)).AsInt16();
        var odd = s + s + Vector128<short>.One;
        var weights = Vector256.Create(Vector128.Shuffle(odd, Vector128.Create(0, 0, 1, 1, 2, 2, 3, 3)),
            Vector128.Shuffle(odd, Vector128.Create(4, 4, 5, 5, 6, 6, 7, 7))) * Offset;
        d = KQuantRow.Half(halves, block) * 0.125f;
        dmin = 0;
        return new BlockScales(KQuantRow.Both(odd), default, weights);
    }

    /// <summary>Value 32r + 8l + j: u = 8·(byte j of row qs[4r + l] + 256·(bits 3l… of word r)) + 9, less 1 where bit
    /// 15 of word r (the shift's sign) is set, plus 1 where not.</summary>
    public static int Quant(byte* block, int p)
    {
        int r = p / 32, l = p % 32 / 8;
        var word = *(ushort*)(block + HighOffset + 2 * r);
        var grid = (sbyte)(IQGrids.IQ1S[block[LowOffset + 4 * r + l] | (word >> (3 * l) & 7) << 8] >> (8 * (p % 8)));
        return 8 * grid + Offset + ((word & 0x8000) != 0 ? -1 : 1);
    }

    /// <summary>Row number of group 4r + l: qs[4r + l] + 256·(bits 3l…3l+2 of word r), for all 32 groups with vector
    /// operations: each word spread over its four groups' 16-bit lanes, multiplied by 2^(11 − 3l) (a shift per lane)
    /// to put its field at bits 11–13, shifted down to 8–10 and masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prepare(byte* block, ushort* numbers)
    {
        var (low0, low1) = Vector256.Widen(Vector256.Load(block + LowOffset));
        var words = Vector128.Load((ushort*)(block + HighOffset));
        var fields = Vector256.Create((ushort)2048, 256, 32, 4, 2048, 256, 32, 4, 2048, 256, 32, 4, 2048, 256, 32, 4);
        var top = Vector256.Create((ushort)0x700);
        var high0 = Vector256.Create(Vector128.Shuffle(words, Vector128.Create((ushort)0, 0, 0, 0, 1, 1, 1, 1)),
            Vector128.Shuffle(words, Vector128.Create((ushort)2, 2, 2, 2, 3, 3, 3, 3)));
        var high1 = Vector256.Create(Vector128.Shuffle(words, Vector128.Create((ushort)4, 4, 4, 4, 5, 5, 5, 5)),
            Vector128.Shuffle(words, Vector128.Create((ushort)6, 6, 6, 6, 7, 7, 7, 7)));
        (low0 | ((high0 * fields) >>> 3 & top)).Store(numbers);
        (low1 | ((high1 * fields) >>> 3 & top)).Store(numbers + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ1SDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: the four rows (<see cref="EightRuns.Iq1S"/>: 8g + 9) plus the sub-block's ±1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        uint word = *(ushort*)(block + HighOffset + 2 * r);
        var n = numbers + 4 * r;
        var rows = EightRuns.Rows(EightRuns.Iq1S, n[0], n[1], n[2], n[3]);
        // +1, or −1 where bit 15 (the shift's sign) is set: arithmetic, not a branch on a data bit.
        var shift = Vector256.Create((byte)(1 - (word >> 14 & 2)));
        ByteDots.Add<TDot, TCount>(r % 4, rows + shift, x + 32 * r, stride, inputs, ByteDots.SubBlock<TDot>(scales.Low, r),
            ref a0, ref a1, ref a2, ref a3);
    }
}
