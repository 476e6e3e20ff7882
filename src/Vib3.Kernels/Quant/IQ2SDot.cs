using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ2_S weights · Q8_K activations (<see cref="KQuantRow"/>): 32 groups of eight values, each a 10-bit
/// <see cref="IQGrids.IQ2S"/> row (low 8 bits in qs, top 2 in qh) and a stored sign byte (<see cref="IQ2S"/>), sixteen
/// 16-value sub-blocks with 4-bit scales s. Value = (d/8)·(2s + 1)·(±grid): integer scale 2s + 1, float d/8.</summary>
internal readonly unsafe struct IQ2SDot : IKQuantFormat, IEightRuns
{
    private const int LowOffset = 2;
    private const int SignsOffset = 34;
    private const int HighOffset = 66;
    private const int ScalesOffset = 74;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ2_S.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ2SDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 82;
    public static bool UsesSums => false;
    public static int SubBlockValues => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        d = KQuantRow.Half(halves, block) * 0.125f;
        dmin = 0;
        return EightRuns.OddNibbles16(block + ScalesOffset);
    }

    /// <summary>Value 8g + j: byte j of row qs[g] + 256·(bits 2(g mod 4)… of qh[g/4]), negated where bit j of the
    /// group's sign byte is set.</summary>
    public static int Quant(byte* block, int p)
    {
        var g = p / 8;
        var high = block[HighOffset + g / 4] >> (2 * (g % 4)) & 3;
        var magnitude = (sbyte)(IQGrids.IQ2S[block[LowOffset + g] | high << 8] >> (8 * (p % 8)));
        return (block[SignsOffset + g] >> (p % 8) & 1) != 0 ? -magnitude : magnitude;
    }

    /// <summary>Row number of group g: qs[g] + 256·(bits 2(g mod 4)… of qh[g/4]), for all 32 groups with vector
    /// operations: each qh byte spread over four 16-bit lanes, multiplied by 2^(8 − 2(g mod 4)) to put its field at
    /// bits 8–9, and masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prepare(byte* block, ushort* numbers)
    {
        var (low0, low1) = Vector256.Widen(Vector256.Load(block + LowOffset));
        var high = Vector128.CreateScalar(*(ulong*)(block + HighOffset)).AsByte();
        var fields = Vector256.Create((ushort)256, 64, 16, 4, 256, 64, 16, 4, 256, 64, 16, 4, 256, 64, 16, 4);
        var top = Vector256.Create((ushort)0x300);
        var high0 = EightRuns.Widen(Vector128.Shuffle(high, Vector128.Create((byte)0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)));
        var high1 = EightRuns.Widen(Vector128.Shuffle(high, Vector128.Create((byte)4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)));
        (low0 | (high0 * fields & top)).Store(numbers);
        (low1 | (high1 * fields & top)).Store(numbers + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ2SDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: groups 4r … 4r + 3, their low row bytes one 32-bit load, their top bits qh[r], their signs the
    /// 32 bits at 34 + 4r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var n = numbers + 4 * r;
        var magnitudes = EightRuns.Rows(EightRuns.Iq2S, n[0], n[1], n[2], n[3]);
        ByteDots.AddWithSigns<TDot, TCount>(r % 4, magnitudes, EightRuns.BitSigns<TDot>(*(uint*)(block + SignsOffset + 4 * r)), x + 32 * r,
            stride, inputs, EightRuns.PairScale<TDot>(scales, r), ref a0, ref a1, ref a2, ref a3);
    }
}
