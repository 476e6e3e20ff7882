using Vib3.Core;

namespace Vib3.Kernels.Quant;

/// <summary>The q8_0-activation row kernel of each 32-value weight type but Q8_0 (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL;
/// see <see cref="LegacyRow"/>). Activations come as int8 quants, f16-rounded block scales and, for Q4_1 and Q5_1,
/// q8_1's block sums rounded to f16 as llama.cpp stores them (<see cref="RowDot.QuantizeQ8Bytes"/>).</summary>
public static unsafe class LegacyDots
{
    /// <summary>True where <paramref name="t"/> has a q8_0-activation row kernel here.</summary>
    public static bool Has(DType t) => For(t) != null;

    /// <summary>True for the types whose activations need q8_1's block sums (Q4_1, Q5_1: value = d·q + m).</summary>
    public static bool NeedsSums(DType t) => t is DType.Q4_1 or DType.Q5_1;

    /// <summary>One row of <paramref name="t"/> · one q8_0 row (quants <paramref name="xq"/> [32·blocks], scales
    /// <paramref name="xd"/> [blocks], sums <paramref name="xs"/> [blocks] where <see cref="NeedsSums"/>, else
    /// ignored) on a chosen tier (the benchmark compares tiers).</summary>
    public static float Dot(DType t, IntegerTier tier, byte* row, sbyte* xq, float* xd, float* xs, int blocks)
    {
        var kernel = For(t);
        if (kernel == null) throw new ArgumentOutOfRangeException(nameof(t), t, "no q8_0 row kernel for this type");
        if (!IntegerTiers.IsSupported(tier)) throw new PlatformNotSupportedException($"{tier} is not supported on this CPU");
        float result;
        kernel(tier, row, xq, xd, xs, 1, blocks, &result);
        return result;
    }

    /// <summary>The row kernel of <paramref name="t"/> (null if none): one weight row against 1–
    /// <see cref="LegacyRow.MaxInputs"/> activation rows (see <see cref="LegacyRow.Dot{TFormat}"/>).</summary>
    internal static delegate*<IntegerTier, byte*, sbyte*, float*, float*, int, int, float*, void> For(DType t) => t switch
    {
        DType.Q4_0 => &Q4_0Dot.Dot,
        DType.Q4_1 => &Q4_1Dot.Dot,
        DType.Q5_0 => &Q5_0Dot.Dot,
        DType.Q5_1 => &Q5_1Dot.Dot,
        DType.IQ4_NL => &IQ4NLDot.Dot,
        _ => null,
    };
}
