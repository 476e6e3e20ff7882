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

    /// <summary>Row number of group g: qs[g] + 256·(bit g mod 8 of qh[g/8]), for all 64 groups with vector operations:
    /// each qh byte spread over eight 16-bit lanes, multiplied by 2^(8 − g mod 8) to put its bit at bit 8, and
    /// masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prepare(byte* block, ushort* numbers)
    {
        var high = Vector128.CreateScalar(*(ulong*)(block + HighOffset)).AsByte();
        Quarter(0, block, high, numbers);
        Quarter(1, block, high, numbers);
        Quarter(2, block, high, numbers);
        Quarter(3, block, high, numbers);
    }

    /// <summary>Groups 16q … 16q + 15 (q a constant at the call, so the shuffle's indices are constants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quarter(int q, byte* block, Vector128<byte> high, ushort* numbers)
    {
        var low = EightRuns.Widen(Vector128.Load(block + LowOffset + 16 * q));
        var spread = Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) + Vector128.Create((byte)(2 * q));
        var bits = Vector256.Create((ushort)256, 128, 64, 32, 16, 8, 4, 2, 256, 128, 64, 32, 16, 8, 4, 2);
        (low | (EightRuns.Widen(Vector128.Shuffle(high, spread)) * bits & Vector256.Create((ushort)0x100))).Store(numbers + 16 * q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ3SDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: groups 8r … 8r + 7, their low row bytes one 64-bit load, their ninth bits qh[r], their signs
    /// the 32 bits at 74 + 4r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var grid = EightRuns.Iq3S;
        var n = numbers + 8 * r;
        var magnitudes = Vector256.Create(grid[n[0]], grid[n[1]], grid[n[2]], grid[n[3]], grid[n[4]], grid[n[5]], grid[n[6]], grid[n[7]]).AsByte();
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, EightRuns.BitSigns<TDot>(*(uint*)(block + SignsOffset + 4 * r)), x + 32 * r,
            stride, inputs, ByteDots.SubBlock<TDot>(scales.Low, r), ref a0, ref a1, ref a2, ref a3);
    }
}
