using Vib3.Core;

namespace Vib3.Kernels.Quant;

/// <summary>The Q8_K-activation row kernel of each block type that has one (one weight row against 1–
/// <see cref="KQuantRow.MaxInputs"/> q8_K rows; see <see cref="Q4KDot"/>).</summary>
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
        _ => null,
    };
}
