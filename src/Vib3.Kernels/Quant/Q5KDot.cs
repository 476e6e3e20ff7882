using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>Q5_K weights · Q8_K activations (<see cref="KQuantRow"/>): Q4_K's nibbles and table plus a fifth bit per
/// value from qh (bit s of qh[l] for value 32s + l), so quants are 0…31.</summary>
internal readonly unsafe partial struct Q5KDot : ITileFormat
{
    private const int HighBitsOffset = 16;
    private const int QuantsOffset = 48;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of Q5_K.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<Q5KDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 176;
    public static bool HasMins => true;
    public static bool UsesSums => true;
    public static int SubBlockValues => 32;
    public static int MaxQuant => 31;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin) => Q4KDot.Decode(block, halves, out d, out dmin);

    public static int Quant(byte* block, int p)
    {
        int s = p / 32, l = p % 32;
        return ((block[QuantsOffset + 32 * (s / 2) + l] >> (4 * (s % 2))) & 0xF) | (((block[HighBitsOffset + l] >> s) & 1) << 4);
    }

    /// <summary>Values 64q…64q+63: group q's nibbles (low, then high) topped by bits 2q and 2q+1 of qh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Quarter(byte* block, int q)
    {
        var sixteen = Vector256.Create((byte)0x10);
        var qs = Vector256.Load(block + QuantsOffset + 32 * q);
        var qh = Vector256.Load(block + HighBitsOffset) >>> (2 * q);
        return Vector512.Create((qs & Vector256.Create((byte)0x0F)) | ((qh << 4) & sixteen), (qs >>> 4) | ((qh << 3) & sixteen));
    }

    /// <summary>Q4_K's groups with the fifth bits of sub-blocks 2g and 2g+1 (bits 2g, 2g+1 of qh) moved to bit 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var qh = Vector256.Load(block + HighBitsOffset);
        Group<TDot, TCount>(0, block, qh, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(1, block, qh >>> 2, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(2, block, qh >>> 4, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(3, block, qh >>> 6, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>Called with constant <paramref name="g"/>; <paramref name="qh"/> already shifted right by 2g.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group<TDot, TCount>(int g, byte* block, Vector256<byte> qh, sbyte* x, long stride, int inputs, Vector256<short> table,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount
    {
        var sixteen = Vector256.Create((byte)0x10);
        var q = Vector256.Load(block + QuantsOffset + 32 * g);
        var low = (q & Vector256.Create((byte)0x0F)) | ((qh << 4) & sixteen);
        var high = (q >>> 4) | ((qh << 3) & sixteen);
        ByteDots.Add<TDot, TCount>(2 * g % 4, low, x + 64 * g, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g), ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>((2 * g + 1) % 4, high, x + 64 * g + 32, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g + 1), ref a0, ref a1, ref a2, ref a3);
    }
}
