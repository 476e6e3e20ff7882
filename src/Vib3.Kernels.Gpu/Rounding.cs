using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: rounding as the CPU quantisers round.</summary>
internal static class Rounding
{
    /// <summary>Round half to even, for |v| &lt; 2^22: adding 1.5·2^23 leaves the rounded value in the low 22 mantissa
    /// bits (ggml's nearest_int, and Q8K's). The product is forced through its bits first so the compiler cannot fuse
    /// it into the addition (a fused multiply-add rounds once, the CPU rounds twice).</summary>
    public static int NearestInt(float v)
    {
        var exact = Interop.IntAsFloat(Interop.FloatAsInt(v));
        return (int)(Interop.FloatAsInt(exact + 12582912f) & 0x007fffff) - 0x00400000;
    }

    /// <summary>The f16 nearest to <paramref name="v"/> (ties to even), as f32: what the CPU's (float)(Half)v gives,
    /// done in integers because ILGPU's own Half conversion does not round to nearest on every accelerator.</summary>
    public static float ThroughHalf(float v)
    {
        var bits = Interop.FloatAsInt(v);
        var sign = bits & 0x80000000u;
        var magnitude = bits & 0x7FFFFFFFu;
        if (magnitude >= 0x7F800000u) return v;                   // ±inf, NaN
        if (magnitude < 0x38800000u)                              // below f16's smallest normal, 2^-14: steps of 2^-24
        {
            var steps = NearestInt(Interop.IntAsFloat(magnitude) * 16777216f); // exact scaling by 2^24, then RNE
            return Interop.IntAsFloat(sign | Interop.FloatAsInt(steps * 5.9604645e-8f));
        }
        var rounded = (magnitude + 0xFFFu + ((magnitude >> 13) & 1u)) & 0xFFFFE000u; // keep 10 mantissa bits, RNE
        return rounded > 0x477FE000u ? Interop.IntAsFloat(sign | 0x7F800000u) : Interop.IntAsFloat(sign | rounded);
    }
}
