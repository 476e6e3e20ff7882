using System.Numerics;

namespace Vib3.Core.Quant;

/// <summary>
/// What the IQ2/IQ3/IQ1 formats share: a value group is a row of a lattice codebook (<see cref="IQGrids"/>, one byte
/// per value, packed little-endian into a ulong or uint), with a sign bit per value for the IQ2/IQ3 types.
/// </summary>
public static class IQLattice
{
    /// <summary>The 8 sign bits of a group from the 7 that IQ2_XXS, IQ2_XS and IQ3_XXS store: the eighth makes the
    /// number of minus signs even (the codebooks were built so that a group's signs have even parity, which saves
    /// the bit). ggml keeps this as a 128-entry table; the grid test measures that table and compares it with this.</summary>
    public static int EvenParitySigns(int sevenBits) => sevenBits | (BitOperations.PopCount((uint)sevenBits) & 1) << 7;

    /// <summary>Writes the 8 values of lattice row <paramref name="row"/>, value j negated where bit j of
    /// <paramref name="signs"/> is set. ggml computes (db·g)·(±1): one rounding, then an exact negation; scale·q with
    /// q = ±g is the real number ±db·g rounded once, and round-to-nearest-even is symmetric, so the bits agree.</summary>
    public static void Signed8(ulong row, int signs, Span<sbyte> dst)
    {
        for (var j = 0; j < 8; j++)
        {
            var magnitude = (sbyte)(row >> (8 * j));
            dst[j] = (signs >> j & 1) != 0 ? (sbyte)-magnitude : magnitude;
        }
    }

    /// <summary>Writes the 4 values of lattice row <paramref name="row"/>, value j negated where bit
    /// <paramref name="firstSignBit"/> + j of <paramref name="signs"/> is set.</summary>
    public static void Signed4(uint row, int signs, int firstSignBit, Span<sbyte> dst)
    {
        for (var j = 0; j < 4; j++)
        {
            var magnitude = (sbyte)(row >> (8 * j));
            dst[j] = (signs >> (firstSignBit + j) & 1) != 0 ? (sbyte)-magnitude : magnitude;
        }
    }

    /// <summary>
    /// The 8 values of IQ1 lattice row <paramref name="row"/> (each −1, 0 or +1) shifted by ±1/8, scaled by 8 so they
    /// are integers: 8·g ± 1, odd, in −9…9. ggml computes dl·(g ± 0.125f), where g ± 0.125f is exact in f32, so
    /// its value is dl·(g ± 1/8) rounded once. IQ1 formats report the scale dl·0.125f, which is exact (a power of two;
    /// |dl| is 0 or ≥ 2⁻²⁴, so dl/8 is still a normal f32), and <see cref="BlockRow"/> computes scale·q, the same real
    /// number rounded once: the same bits. Its min is 0, and x − 0 = x for every x (−0 included).
    /// </summary>
    public static void Shifted8(ulong row, bool negativeShift, Span<sbyte> dst)
    {
        var shift = negativeShift ? -1 : 1;
        for (var j = 0; j < 8; j++) dst[j] = (sbyte)(8 * (sbyte)(row >> (8 * j)) + shift);
    }

    /// <summary>The scale of <see cref="Shifted8"/>'s integers: dl/8, where dl = d·(2·s + 1) is the scale ggml applies
    /// to grid + δ (computed as ggml computes it, then divided exactly).</summary>
    public static float ShiftedScale(float d, int s) => d * (2 * s + 1) * 0.125f;
}
