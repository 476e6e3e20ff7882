using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>The instruction set the K-quant integer dot products run on. Every tier computes the same exact integer
/// sub-block sums and combines them in the same float order, so all tiers give identical bits; they differ only in
/// speed. .NET 10 exposes no 512-bit VNNI (there is no Avx512Vnni class; AvxVnniInt8.V512 is AVX10.2), so the top
/// tier is the VEX-encoded 256-bit AVX-VNNI that AVX-512 VNNI CPUs also carry (cpuid avx_vnni).</summary>
public enum IntegerTier
{
    /// <summary>One byte product at a time: the definition the vector tiers are tested against.</summary>
    Scalar,

    /// <summary>Portable Vector256: widen to int16, multiply, widen to int32 (NEON and any accelerated Vector256).</summary>
    Vector256,

    /// <summary>AVX2: vpmaddubsw then vpmaddwd against the sub-block scales, as llama.cpp's AVX2 kernels do.</summary>
    Avx2,

    /// <summary>AVX-VNNI: vpmaddubsw then vpdpwssd, which applies the scales and accumulates in one instruction.</summary>
    AvxVnni,
}

public static class IntegerTiers
{
    /// <summary>The fastest tier this CPU runs, chosen once at startup.</summary>
    public static readonly IntegerTier Best = Detect();

    public static bool IsSupported(IntegerTier tier) => tier switch
    {
        IntegerTier.Scalar => true,
        IntegerTier.Vector256 => Vector256.IsHardwareAccelerated,
        IntegerTier.Avx2 => Avx2.IsSupported,
        IntegerTier.AvxVnni => AvxVnni.IsSupported,
        _ => false,
    };

    private static IntegerTier Detect()
    {
        foreach (var tier in new[] { IntegerTier.AvxVnni, IntegerTier.Avx2, IntegerTier.Vector256 })
            if (IsSupported(tier)) return tier;
        return IntegerTier.Scalar;
    }
}
