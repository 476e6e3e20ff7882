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
    public static bool HasMins => false;
    public static bool MinsFirst => false;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ1SDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: the four rows (bytes −1/0/+1) shifted left by 3, plus 9 ± 1 (wrapping −8 + 8 to 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var low = *(uint*)(block + LowOffset + 4 * r);
        uint word = *(ushort*)(block + HighOffset + 2 * r);
        var rows = EightRuns.Rows(EightRuns.Iq1S, (low & 0xFF) | (word & 0x7) << 8, (low >> 8 & 0xFF) | (word & 0x38) << 5,
            (low >> 16 & 0xFF) | (word & 0x1C0) << 2, low >> 24 | (word & 0xE00) >> 1);
        var shift = Vector256.Create((byte)((word & 0x8000) != 0 ? Offset - 1 : Offset + 1));
        ByteDots.Add<TDot, TCount>(r % 4, (rows << 3) + shift, x + 32 * r, stride, inputs, ByteDots.SubBlock<TDot>(scales.Low, r),
            ref a0, ref a1, ref a2, ref a3);
    }
}
