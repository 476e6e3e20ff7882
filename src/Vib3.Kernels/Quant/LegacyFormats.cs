using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>Q4_0 · q8_0 (<see cref="LegacyRow"/>): d · 16 nibble bytes, value d·(q − 8).</summary>
internal readonly unsafe struct Q4_0Dot : ILegacyFormat
{
    private const int QuantsOffset = 2;
    private const int Offset = 8;

    internal static void Dot(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output) =>
        LegacyRow.Dot<Q4_0Dot>(tier, row, x, xd, xs, inputs, blocks, output);

    public static int BlockBytes => 18;
    public static bool HasMin => false;
    public static bool Signed => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot =>
        LegacyQuants.Nibbles(block + QuantsOffset).AsSByte() - Vector256.Create((sbyte)Offset);

    public static int Quant(byte* block, int j) => LegacyQuants.Nibble(block + QuantsOffset, j) - Offset;
}

/// <summary>Q4_1 · q8_1 (<see cref="LegacyRow"/>): d · m · 16 nibble bytes, value d·q + m.</summary>
internal readonly unsafe struct Q4_1Dot : ILegacyFormat
{
    private const int QuantsOffset = 4;

    internal static void Dot(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output) =>
        LegacyRow.Dot<Q4_1Dot>(tier, row, x, xd, xs, inputs, blocks, output);

    public static int BlockBytes => 20;
    public static bool HasMin => true;
    public static bool Signed => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot => LegacyQuants.Nibbles(block + QuantsOffset).AsSByte();

    public static int Quant(byte* block, int j) => LegacyQuants.Nibble(block + QuantsOffset, j);
}

/// <summary>Q5_0 · q8_0 (<see cref="LegacyRow"/>): d · qh (bit j: value j's fifth bit) · 16 nibble bytes, value
/// d·(q − 16).</summary>
internal readonly unsafe struct Q5_0Dot : ILegacyFormat
{
    private const int HighBitsOffset = 2;
    private const int QuantsOffset = 6;
    private const int Offset = 16;

    internal static void Dot(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output) =>
        LegacyRow.Dot<Q5_0Dot>(tier, row, x, xd, xs, inputs, blocks, output);

    public static int BlockBytes => 22;
    public static bool HasMin => false;
    public static bool Signed => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot =>
        (LegacyQuants.Nibbles(block + QuantsOffset) | LegacyQuants.FifthBits<TDot>(block + HighBitsOffset)).AsSByte() - Vector256.Create((sbyte)Offset);

    public static int Quant(byte* block, int j) =>
        (LegacyQuants.Nibble(block + QuantsOffset, j) | LegacyQuants.FifthBit(block + HighBitsOffset, j)) - Offset;
}

/// <summary>Q5_1 · q8_1 (<see cref="LegacyRow"/>): d · m · qh · 16 nibble bytes, value d·q + m.</summary>
internal readonly unsafe struct Q5_1Dot : ILegacyFormat
{
    private const int HighBitsOffset = 4;
    private const int QuantsOffset = 8;

    internal static void Dot(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output) =>
        LegacyRow.Dot<Q5_1Dot>(tier, row, x, xd, xs, inputs, blocks, output);

    public static int BlockBytes => 24;
    public static bool HasMin => true;
    public static bool Signed => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot =>
        (LegacyQuants.Nibbles(block + QuantsOffset) | LegacyQuants.FifthBits<TDot>(block + HighBitsOffset)).AsSByte();

    public static int Quant(byte* block, int j) => LegacyQuants.Nibble(block + QuantsOffset, j) | LegacyQuants.FifthBit(block + HighBitsOffset, j);
}

/// <summary>IQ4_NL · q8_0 (<see cref="LegacyRow"/>): d · 16 nibble bytes, each nibble indexing the IQ4 non-linear
/// codebook (signed, |value| ≤ 127, looked up with a byte shuffle), value d·codebook[q].</summary>
internal readonly unsafe struct IQ4NLDot : ILegacyFormat
{
    private const int QuantsOffset = 2;

    internal static void Dot(IntegerTier tier, byte* row, sbyte* x, float* xd, float* xs, int inputs, int blocks, float* output) =>
        LegacyRow.Dot<IQ4NLDot>(tier, row, x, xd, xs, inputs, blocks, output);

    public static int BlockBytes => 18;
    public static bool HasMin => false;
    public static bool Signed => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants<TDot>(byte* block) where TDot : IByteDot
    {
        var codebook = Vector128.Create(IQ4NonLinear.Codebook);
        return TDot.Lookup(Vector256.Create(codebook, codebook), LegacyQuants.Nibbles(block + QuantsOffset));
    }

    public static int Quant(byte* block, int j) => IQ4NonLinear.Codebook[LegacyQuants.Nibble(block + QuantsOffset, j)];
}

/// <summary>The nibble and fifth-bit layout the 32-value formats share: byte j of the 16 holds value j in its low
/// nibble and value j + 16 in its high one; bit j of the little-endian u32 qh is value j's fifth bit.</summary>
internal static unsafe class LegacyQuants
{
    private const int Half = 16;
    private const byte FifthBitValue = 16;

    /// <summary>Byte j (0–31) picks byte j / 8 of a broadcast u32, in each 128-bit half alike (so a per-half byte
    /// shuffle and a whole-vector one agree).</summary>
    private static readonly Vector256<byte> ByteOfBit = Vector256.Create(
        (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);

    /// <summary>Byte j: 1 &lt;&lt; (j % 8), the bit of its qh byte that byte j tests.</summary>
    private static readonly Vector256<byte> BitOfByte = Vector256.Create((ulong)0x8040201008040201).AsByte();

    /// <summary>The 32 nibbles in value order: low nibbles, then high ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(byte* qs)
    {
        var bytes = Vector128.Load(qs);
        return Vector256.Create(bytes & Vector128.Create((byte)0x0F), bytes >>> 4);
    }

    /// <summary>16 in byte j where bit j of the u32 at <paramref name="qh"/> is set, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBits<TDot>(byte* qh) where TDot : IByteDot
    {
        var spread = TDot.Lookup(Vector256.Create(*(uint*)qh).AsSByte(), ByteOfBit).AsByte();
        return Vector256.Equals(spread & BitOfByte, BitOfByte) & Vector256.Create(FifthBitValue);
    }

    public static int Nibble(byte* qs, int j) => j < Half ? qs[j] & 0x0F : qs[j - Half] >> 4;

    public static int FifthBit(byte* qh, int j) => (int)((*(uint*)qh >> j) & 1) * FifthBitValue;
}
