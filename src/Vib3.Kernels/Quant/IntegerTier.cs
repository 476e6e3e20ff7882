using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels.Quant;

/// <summary>The instruction set the K-quant integer dot products run on. Every tier computes the same exact integer
/// lanes and combines them in the same float order, so all tiers give identical bits; they differ only in speed.
/// .NET 10 exposes no 512-bit VNNI (there is no Avx512Vnni class; AvxVnniInt8.V512 is AVX10.2): the 512-bit tier
/// uses AVX-512BW's vpmaddubsw + vpmaddwd, which on a CPU with full-width 512-bit units (Zen 5) does twice the
/// 256-bit AVX-VNNI's bytes per multiply instruction.</summary>
public enum IntegerTier
{
    /// <summary>One byte product at a time: the definition the vector tiers are tested against.</summary>
    Scalar,

    /// <summary>Portable Vector256: x86's pair sums rebuilt from int16/int32 shifts and multiplies (NEON and any
    /// accelerated Vector256).</summary>
    Vector256,

    /// <summary>AVX2: vpmaddubsw then vpmaddwd against the sub-block scales, as llama.cpp's AVX2 kernels do.</summary>
    Avx2,

    /// <summary>AVX-VNNI: vpmaddubsw then vpdpwssd, which applies the scales and accumulates in one instruction.</summary>
    AvxVnni,

    /// <summary>AVX-512BW: the batches' interleaved tile kernel (<see cref="KQuantTiles"/>); a single row runs the best
    /// 256-bit tier here (with one f32 chain per row, Q6_K's 512-bit row sums measured no faster than AVX-VNNI, and
    /// Q4_K's 5 % slower).</summary>
    Avx512,
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
        IntegerTier.Avx512 => Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary><paramref name="tier"/>, or for <see cref="IntegerTier.Avx512"/> the best 256-bit tier: what the row
    /// kernels run.</summary>
    internal static IntegerTier Narrow(IntegerTier tier) =>
        tier != IntegerTier.Avx512 ? tier : AvxVnni.IsSupported ? IntegerTier.AvxVnni : IntegerTier.Avx2;

    private static IntegerTier Detect()
    {
        foreach (var tier in new[] { IntegerTier.Avx512, IntegerTier.AvxVnni, IntegerTier.Avx2, IntegerTier.Vector256 })
            if (IsSupported(tier)) return tier;
        return IntegerTier.Scalar;
    }
}
