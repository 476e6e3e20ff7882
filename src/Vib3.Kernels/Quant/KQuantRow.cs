using System.Runtime.CompilerServices;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>What every K-quant × Q8_K kernel shares: how many activation rows one weight row is dotted with at once,
/// and how a Q8_K block's fields are read.</summary>
internal static unsafe class KQuantRow
{
    /// <summary>Activation rows one call dots a weight row with: each weight block is read (and its scales decoded)
    /// once for all of them. Four keeps their q8_K blocks and the weight block in L1 together.</summary>
    public const int MaxInputs = 4;

    /// <summary>The f16 at <paramref name="p"/> as f32 (table lookup: exact, and cheaper than a software convert).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(byte* p) => RowDot.HalfTablePtr[*(ushort*)p];

    /// <summary>Block <paramref name="b"/> of activation row <paramref name="k"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Activation(byte* q8k, long stride, int k, int b) => q8k + k * stride + (long)b * Q8K.BlockBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static sbyte* Quants(byte* block) => (sbyte*)(block + Q8K.QuantsOffset);

    /// <summary>The sixteen int16 sums of 16 quants each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short* Sums(byte* block) => (short*)(block + Q8K.SumsOffset);

    public static void CheckInputs(int inputs, int blocks)
    {
        if (inputs is < 1 or > MaxInputs) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, $"1 to {MaxInputs} activation rows per call");
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
    }
}
