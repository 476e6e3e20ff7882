using Vib3.Core;

namespace Vib3.Kernels.Quant;

/// <summary>The Q8_K-activation row kernel of each block type that has one (one weight row against 1–
/// <see cref="KQuantRow.MaxInputs"/> q8_K rows; see <see cref="Q4KDot"/>).</summary>
internal static unsafe class KQuantDots
{
    public static delegate*<IntegerTier, byte*, byte*, long, int, int, float*, void> For(DType t) => t switch
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
