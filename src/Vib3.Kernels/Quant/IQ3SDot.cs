using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ3_S weights · Q8_K activations (<see cref="KQuantRow"/>): 64 groups of four values, each a 9-bit
/// <see cref="IQGrids.IQ3S"/> row (low 8 bits in qs, the ninth in qh), a stored sign bit per value, eight 32-value
/// sub-blocks with 4-bit scales s (<see cref="IQ3S"/>). Value = d·(1 + 2s)·(±grid): integer scale 2s + 1, float d.</summary>
internal readonly unsafe struct IQ3SDot : IKQuantFormat, IEightRuns
{
    private const int LowOffset = 2;
    private const int HighOffset = 66;
    private const int SignsOffset = 74;
    private const int ScalesOffset = 106;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ3_S.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ3SDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 110;
    public static bool HasMins => false;
    public static bool MinsFirst => false;
    public static bool UsesSums => false;
    public static int SubBlockValues => 32;

    /// <summary>Scale s: the low (s even) or high nibble of byte 106 + s/2, spread to one byte per scale with shifts
    /// and masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        ulong nibbles = *(uint*)(block + ScalesOffset);
        nibbles = (nibbles | nibbles << 16) & 0x0000FFFF0000FFFF;
        nibbles = (nibbles | nibbles << 8) & 0x00FF00FF00FF00FF;
        nibbles = (nibbles | nibbles << 4) & 0x0F0F0F0F0F0F0F0F;
        var s = Vector128.WidenLower(Vector128.CreateScalar(nibbles).AsByte()).AsInt16();
        d = KQuantRow.Half(halves, block);
        dmin = 0;
        return EightRuns.Eight(s + s + Vector128<short>.One);
    }

    /// <summary>Value 4g + k (sub-block r = g/8): byte k of row qs[g] + 256·(bit g mod 8 of qh[r]), negated where bit
    /// p mod 8 of sign byte p/8 is set.</summary>
    public static int Quant(byte* block, int p)
    {
        var g = p / 4;
        var row = block[LowOffset + g] | (block[HighOffset + g / 8] >> (g % 8) & 1) << 8;
        var magnitude = (sbyte)(IQGrids.IQ3S[row] >> (8 * (p % 4)));
        return (block[SignsOffset + p / 8] >> (p % 8) & 1) != 0 ? -magnitude : magnitude;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ3SDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: groups 8r … 8r + 7, their low row bytes one 64-bit load, their ninth bits qh[r], their signs
    /// the 32 bits at 74 + 4r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var low = *(ulong*)(block + LowOffset + 8 * r);
        ulong high = block[HighOffset + r];
        var grid = EightRuns.Iq3S;
        var magnitudes = Vector256.Create(
            grid[(low & 0xFF) | (high & 0x01) << 8], grid[(low >> 8 & 0xFF) | (high & 0x02) << 7],
            grid[(low >> 16 & 0xFF) | (high & 0x04) << 6], grid[(low >> 24 & 0xFF) | (high & 0x08) << 5],
            grid[(low >> 32 & 0xFF) | (high & 0x10) << 4], grid[(low >> 40 & 0xFF) | (high & 0x20) << 3],
            grid[(low >> 48 & 0xFF) | (high & 0x40) << 2], grid[(low >> 56) | (high & 0x80) << 1]).AsByte();
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, EightRuns.BitSigns<TDot>(*(uint*)(block + SignsOffset + 4 * r)), x + 32 * r,
            stride, inputs, ByteDots.SubBlock<TDot>(scales.Low, r), ref a0, ref a1, ref a2, ref a3);
    }
}
