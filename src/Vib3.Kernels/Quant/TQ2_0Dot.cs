using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>TQ2_0 weights · Q8_K activations (<see cref="KQuantRow"/>): 2-bit codes u (0, 1, 2 for −1, 0, +1; 3 reads
/// as +2), one scale d, laid out as Q2_K's quants. Value = d·(u − 1): an offset format with c = 1 and every sub-block
/// scale 1, so each Q8_K block sum is weighted by 1.</summary>
internal readonly unsafe struct TQ2_0Dot : IKQuantFormat
{
    private const int ScaleOffset = 64;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of TQ2_0.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<TQ2_0Dot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 66;
    public static bool UsesSums => true;
    public static int SubBlockValues => 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        d = KQuantRow.Half(halves, block + ScaleOffset);
        dmin = 0;
        return Ternary.Scales;
    }

    /// <summary>Value 128h + 32j + l is bits 2j…2j+1 of qs[32h + l].</summary>
    public static int Quant(byte* block, int p) => block[32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32)) & 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        Half<TDot, TCount>(0, block, x, stride, inputs, ref a0, ref a1, ref a2, ref a3);
        Half<TDot, TCount>(1, block, x, stride, inputs, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>Half h: its 32 bytes loaded once, run j their bits 2j…2j+1, into chain j with one input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Half<TDot, TCount>(int h, byte* block, sbyte* x, long stride, int inputs,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount
    {
        var q = Vector256.Load(block + 32 * h);
        var three = Vector256.Create((byte)3);
        var ones = Ternary.Ones;
        var xh = x + 128 * h;
        ByteDots.Add<TDot, TCount>(0, q & three, xh, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(1, q >>> 2 & three, xh + 32, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(2, q >>> 4 & three, xh + 64, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(3, q >>> 6, xh + 96, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
    }
}

/// <summary>What TQ1_0 and TQ2_0 share: one scale, d; every sub-block scale and every block sum's weight 1.</summary>
internal static class Ternary
{
    public static Vector256<short> Ones
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create((short)1);
    }

    public static BlockScales Scales
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Ones, default, Ones);
    }
}
