using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ4_XS weights · Q8_K activations (<see cref="KQuantRow"/>): each nibble indexes the IQ4 non-linear
/// codebook (signed, |value| ≤ 127, looked up with a byte shuffle), eight 32-value sub-blocks with 6-bit scales
/// stored biased by 32.</summary>
internal readonly unsafe struct IQ4XSDot : IKQuantFormat
{
    private const int QuantsOffset = 8;
    private const int ScaleBias = 32;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ4_XS.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ4XSDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 136;
    public static bool UsesSums => false;
    public static int SubBlockValues => 32;

    /// <summary>Scale s: the low (s even) or high (s odd) nibble of byte 4 + s/2, topped by bits 2s…2s+1 of the
    /// 16-bit word at byte 2; both spread to one byte per scale with shifts and masks, as a bit deposit would.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        ulong low = *(uint*)(block + 4);
        low = (low | low << 16) & 0x0000FFFF0000FFFF;
        low = (low | low << 8) & 0x00FF00FF00FF00FF;
        low = (low | low << 4) & 0x0F0F0F0F0F0F0F0F;
        ulong high = *(ushort*)(block + 2);
        high = (high | high << 24) & 0x000000FF000000FF;
        high = (high | high << 12) & 0x000F000F000F000F;
        high = (high | high << 6) & 0x0303030303030303;
        var scales = Vector128.WidenLower(Vector128.CreateScalar(low | high << 4).AsByte()).AsInt16() - Vector128.Create((short)ScaleBias);
        d = KQuantRow.Half(halves, block);
        dmin = 0;
        return new BlockScales(KQuantRow.Both(scales), default, default);
    }

    /// <summary>Value 32s + l: the codebook entry of the low (l &lt; 16) or high nibble of byte 8 + 16s + l % 16.</summary>
    public static int Quant(byte* block, int p)
    {
        int s = p / 32, l = p % 32;
        var nibbles = block[QuantsOffset + 16 * s + l % 16];
        return IQ4NonLinear.Codebook[l < 16 ? nibbles & 0xF : nibbles >> 4];
    }

    /// <summary>Sub-block s: its 16 nibble bytes give values 0–15 (low nibbles) and 16–31 (high ones); with one
    /// input sub-block s goes to chain s % 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var codebook = Vector128.Create(IQ4NonLinear.Codebook);
        var table = Vector256.Create(codebook, codebook);
        SubBlock<TDot, TCount>(0, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(1, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(2, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(3, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(4, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(5, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(6, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
        SubBlock<TDot, TCount>(7, block, x, stride, inputs, table, scales.Low, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>Called with constant <paramref name="s"/>: the scale shuffle and the chain (s % 4) fold to constants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SubBlock<TDot, TCount>(int s, byte* block, sbyte* x, long stride, int inputs, Vector256<sbyte> codebook, Vector256<short> scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3) where TDot : IByteDot where TCount : IInputCount
    {
        var nibbles = Vector128.Load(block + QuantsOffset + 16 * s);
        var values = TDot.Lookup(codebook, Vector256.Create(nibbles & Vector128.Create((byte)0x0F), nibbles >>> 4));
        ByteDots.AddSigned<TDot, TCount>(s % 4, values, x + 32 * s, stride, inputs, ByteDots.SubBlock<TDot>(scales, s), ref a0, ref a1, ref a2, ref a3);
    }
}
