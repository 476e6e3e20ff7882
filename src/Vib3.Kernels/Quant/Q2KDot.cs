using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>Q2_K weights · Q8_K activations (<see cref="KQuantRow"/>): 2-bit unsigned quants, sixteen 16-value
/// sub-blocks with a 4-bit scale and a 4-bit min each.</summary>
internal readonly unsafe struct Q2KDot : IKQuantFormat, IHalfRuns
{
    private const int QuantsOffset = 16;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of Q2_K.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<Q2KDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 84;
    public static bool HasMins => true;
    public static bool MinsFirst => true;
    public static bool UsesSums => true;
    public static int SubBlockValues => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var packed = Vector128.Load(block);
        var scales = KQuantRow.Shorts((packed & Vector128.Create((byte)0x0F)).AsSByte());
        d = KQuantRow.Half(halves, block + 80);
        dmin = KQuantRow.Half(halves, block + 82);
        return new BlockScales(KQuantRow.Both(scales.GetLower()), KQuantRow.Both(scales.GetUpper()), KQuantRow.Shorts((packed >>> 4).AsSByte()));
    }

    /// <summary>Value 128h + 32j + l is bits 2j…2j+1 of qs[32h + l].</summary>
    public static int Quant(byte* block, int p) => (block[QuantsOffset + 32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32))) & 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        HalfRuns.Add<Q2KDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Half h's runs: bits 2j…2j+1 of qs[32h …] make run j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HalfBytes Load(byte* block, int h) => new(Vector256.Load(block + QuantsOffset + 32 * h));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Run(HalfBytes bytes, int j)
    {
        var three = Vector256.Create((byte)3);
        return j switch
        {
            0 => bytes.A & three,
            3 => bytes.A >>> 6,
            _ => (bytes.A >>> (2 * j)) & three,
        };
    }
}
