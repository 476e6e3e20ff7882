using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>Q6_K weights · Q8_K activations (<see cref="KQuantRow"/>): 6-bit quants dotted unsigned (0…63, the −32
/// offset comes back through the block sums), sixteen 16-value sub-blocks with int8 scales.</summary>
internal readonly unsafe partial struct Q6KDot : ITileFormat, IHalfRuns
{
    private const int ScalesOffset = 192;
    private const int ScaleOffset = 208;
    private const int Offset = 32;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of Q6_K.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<Q6KDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 210;
    public static bool UsesSums => true;
    public static int SubBlockValues => 16;
    public static int MaxQuant => 63;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var shorts = KQuantRow.Shorts(Vector128.Load((sbyte*)(block + ScalesOffset)));
        d = KQuantRow.Half(halves, block + ScaleOffset);
        dmin = 0;
        return new BlockScales(KQuantRow.Both(shorts.GetLower()), KQuantRow.Both(shorts.GetUpper()), shorts * Offset);
    }

    /// <summary>Value 128h + 32·part + l: the low (part 0, 1) or high (part 2, 3) nibble of ql[64h + l] (parts 0, 2)
    /// or ql[64h + l + 32] (parts 1, 3), topped by bits 2·part… of qh[32h + l], as Q6K's layout documents.</summary>
    public static int Quant(byte* block, int p)
    {
        int h = p / 128, part = p % 128 / 32, l = p % 32;
        var low = block[64 * h + l + 32 * (part % 2)];
        return ((low >> (4 * (part / 2))) & 0xF) | (((block[128 + 32 * h + l] >> (2 * part)) & 3) << 4);
    }

    /// <summary>Values 64q…64q+63: runs 2(q mod 2) and 2(q mod 2)+1 of half q/2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Quarter(byte* block, int q)
    {
        var bytes = Load(block, q / 2);
        return Vector512.Create(Run(bytes, 2 * (q % 2)), Run(bytes, 2 * (q % 2) + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        HalfRuns.Add<Q6KDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Half h's runs rebuilt in registers: run j is the low (j &lt; 2) or high nibbles of ql[64h …] (A) or
    /// ql[64h + 32 …] (B) for j even or odd, topped by bits 2j…2j+1 of qh[32h …] (C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HalfBytes Load(byte* block, int h) =>
        new(Vector256.Load(block + 64 * h), Vector256.Load(block + 64 * h + 32), Vector256.Load(block + 128 + 32 * h));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Run(HalfBytes bytes, int j)
    {
        var low4 = Vector256.Create((byte)0x0F);
        var low2 = Vector256.Create((byte)0x03);
        var (ql0, ql1, qh) = (bytes.A, bytes.B, bytes.C);
        return j switch
        {
            0 => (ql0 & low4) | ((qh & low2) << 4),
            1 => (ql1 & low4) | (((qh >>> 2) & low2) << 4),
            2 => (ql0 >>> 4) | (((qh >>> 4) & low2) << 4),
            _ => (ql1 >>> 4) | ((qh >>> 6) << 4),
        };
    }
}
