using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>Q4_K weights · Q8_K activations (<see cref="KQuantRow"/>): 4-bit unsigned quants, eight 32-value
/// sub-blocks with 6-bit scales and mins.</summary>
internal readonly unsafe partial struct Q4KDot : ITileFormat
{
    private const int QuantsOffset = 16;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of Q4_K.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<Q4KDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 144;
    public static bool HasMins => true;
    public static bool UsesSums => true;
    public static int SubBlockValues => 32;
    public static int MaxQuant => 15;

    /// <summary>The 12-byte table (<see cref="PackedScales6"/>) unpacked four at a time in 32-bit words, as
    /// llama.cpp does; the scalar twin's sums read the same scales, and the ggml differential test checks both.
    /// Shared with Q5_K, whose block starts the same way (d, dmin, the packed 6-bit table).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        const uint six = 0x3F3F3F3F, four = 0x0F0F0F0F, two = 0x03030303;
        uint a = *(uint*)(block + 4), b = *(uint*)(block + 8), c = *(uint*)(block + 12);
        var scales8 = (a & six) | (ulong)((c & four) | (((a >> 6) & two) << 4)) << 32;
        var mins8 = (b & six) | (ulong)(((c >> 4) & four) | (((b >> 6) & two) << 4)) << 32;
        var scales = Vector128.WidenLower(Vector128.CreateScalar(scales8).AsByte()).AsInt16();
        // Each 32-value sub-block spans two of the sixteen block sums: min s weighs sums 2s and 2s+1.
        var pairs = Vector128.Shuffle(Vector128.CreateScalar(mins8).AsSByte(), Vector128.Create((sbyte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
        d = KQuantRow.Half(halves, block);
        dmin = KQuantRow.Half(halves, block + 2);
        return new BlockScales(KQuantRow.Both(scales), default, KQuantRow.Shorts(pairs));
    }

    /// <summary>Value 32s + l is the low (s even) or high (s odd) nibble of qs[32·(s/2) + l].</summary>
    public static int Quant(byte* block, int p) => (block[QuantsOffset + 32 * (p / 64) + p % 32] >> (4 * (p / 32 % 2))) & 0xF;

    /// <summary>Values 64q…64q+63: group q's 32 bytes, low nibbles then high nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Quarter(byte* block, int q)
    {
        var bytes = Vector256.Load(block + QuantsOffset + 32 * q);
        return Vector512.Create(bytes & Vector256.Create((byte)0x0F), bytes >>> 4);
    }

    /// <summary>Group g's 32 bytes give sub-block 2g in their low nibbles and 2g+1 in their high ones; with one
    /// input the eight runs go round four chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var qs = block + QuantsOffset;
        Group<TDot, TCount>(0, qs, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(1, qs, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(2, qs, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Group<TDot, TCount>(3, qs, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>Called with constant <paramref name="g"/>: the scale shuffles and chains fold to constants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group<TDot, TCount>(int g, byte* qs, sbyte* x, long stride, int inputs, Vector256<short> table,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount
    {
        var q = Vector256.Load(qs + 32 * g);
        ByteDots.Add<TDot, TCount>(2 * g % 4, q & Vector256.Create((byte)0x0F), x + 64 * g, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g), ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>((2 * g + 1) % 4, q >>> 4, x + 64 * g + 32, stride, inputs, ByteDots.SubBlock<TDot>(table, 2 * g + 1), ref a0, ref a1, ref a2, ref a3);
    }
}
