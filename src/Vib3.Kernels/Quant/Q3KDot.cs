using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>Q3_K weights · Q8_K activations (<see cref="KQuantRow"/>): 3-bit quants dotted unsigned (low 2 bits +
/// 4·hmask bit, 0…7; the −4 offset comes back through the block sums), sixteen 16-value sub-blocks with 6-bit scales
/// stored biased by 32.</summary>
internal readonly unsafe struct Q3KDot : IKQuantFormat, IHalfRuns
{
    private const int QuantsOffset = 32;
    private const int TableOffset = 96;
    private const int ScaleOffset = 108;
    private const int ScaleBias = 32;
    private const int Offset = 4;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of Q3_K.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<Q3KDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 110;
    public static bool UsesSums => true;
    public static int SubBlockValues => 16;

    /// <summary>Scale s is the low or high nibble of table byte s % 8 topped by two bits of byte 8 + s % 4
    /// (Q3K's layout); unpacked four at a time in 32-bit words as llama.cpp does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        const uint low4 = 0x0F0F0F0F, low2 = 0x03030303;
        var table = block + TableOffset;
        uint a = *(uint*)table, b = *(uint*)(table + 4), top = *(uint*)(table + 8);
        var packed = Vector128.Create(
            (a & low4) | ((top & low2) << 4),
            (b & low4) | (((top >> 2) & low2) << 4),
            ((a >> 4) & low4) | (((top >> 4) & low2) << 4),
            ((b >> 4) & low4) | (((top >> 6) & low2) << 4));
        var shorts = KQuantRow.Shorts(packed.AsSByte() - Vector128.Create((sbyte)ScaleBias));
        d = KQuantRow.Half(halves, block + ScaleOffset);
        dmin = 0;
        return new BlockScales(KQuantRow.Both(shorts.GetLower()), KQuantRow.Both(shorts.GetUpper()), shorts * Offset);
    }

    /// <summary>Value 128h + 32j + l: bits 2j…2j+1 of qs[32h + l], plus 4 where bit 4h+j of hmask[l] is set.</summary>
    public static int Quant(byte* block, int p)
    {
        int h = p / 128, j = p % 128 / 32, l = p % 32;
        return ((block[QuantsOffset + 32 * h + l] >> (2 * j)) & 3) | (((block[l] >> (4 * h + j)) & 1) << 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        HalfRuns.Add<Q3KDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Half h's runs: bits 2j…2j+1 of qs[32h …] (A) make run j, topped by bit 4h+j of hmask (B, shifted
    /// right by 4h here) moved to bit 2 (value 4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HalfBytes Load(byte* block, int h)
    {
        var hmask = Vector256.Load(block);
        return new(Vector256.Load(block + QuantsOffset + 32 * h), h == 0 ? hmask : hmask >>> 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Run(HalfBytes bytes, int j)
    {
        var three = Vector256.Create((byte)3);
        var four = Vector256.Create((byte)4);
        var (q, hmask) = (bytes.A, bytes.B);
        return j switch
        {
            0 => (q & three) | ((hmask << 2) & four),
            1 => ((q >>> 2) & three) | ((hmask << 1) & four),
            2 => ((q >>> 4) & three) | (hmask & four),
            _ => (q >>> 6) | ((hmask >>> 1) & four),
        };
    }
}
