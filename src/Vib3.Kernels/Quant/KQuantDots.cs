using Vib3.Core;

namespace Vib3.Kernels.Quant;

/// <summary>The Q8_K-activation row kernel of each 256-value block type (the K-quants, IQ4_XS, the ternary TQ1_0/TQ2_0
/// and the lattice IQ2/IQ3/IQ1 types): one weight row against 1–<see cref="KQuantRow.MaxInputs"/> q8_K rows; see
/// <see cref="Q4KDot"/>.</summary>
public static unsafe class KQuantDots
{
    /// <summary>True where <paramref name="t"/> has a Q8_K row kernel.</summary>
    public static bool Has(DType t) => For(t) != null;

    /// <summary>One row of <paramref name="t"/> · one q8_K row on a chosen tier (the benchmark compares tiers).</summary>
    public static float Dot(DType t, IntegerTier tier, byte* row, byte* q8k, int blocks)
    {
        var kernel = For(t);
        if (kernel == null) throw new ArgumentOutOfRangeException(nameof(t), t, "no Q8_K row kernel");
        if (!IntegerTiers.IsSupported(tier)) throw new PlatformNotSupportedException($"{tier} is not supported on this CPU");
        float result;
        kernel(tier, row, q8k, 0, 1, blocks, &result);
        return result;
    }

    internal static delegate*<IntegerTier, byte*, byte*, long, int, int, float*, void> For(DType t) => t switch
    {
        DType.Q2_K => &Q2KDot.Dot,
        DType.Q3_K => &Q3KDot.Dot,
        DType.Q4_K => &Q4KDot.Dot,
        DType.Q5_K => &Q5KDot.Dot,
        DType.Q6_K => &Q6KDot.Dot,
        DType.IQ4_XS => &IQ4XSDot.Dot,
        DType.TQ1_0 => &TQ1_0Dot.Dot,
        DType.TQ2_0 => &TQ2_0Dot.Dot,
        DType.IQ2_XXS => &IQ2XXSDot.Dot,
        DType.IQ2_XS => &IQ2XSDot.Dot,
        DType.IQ2_S => &IQ2SDot.Dot,
        DType.IQ3_XXS => &IQ3XXSDot.Dot,
        DType.IQ3_S => &IQ3SDot.Dot,
        DType.IQ1_S => &IQ1SDot.Dot,
        DType.IQ1_M => &IQ1MDot.Dot,
        _ => null,
    };
}
