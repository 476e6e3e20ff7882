using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vib3.Kernels;

/// <summary>Four f16 rows against one x at once (AVX-512): each x vector is loaded once for the four rows, and the four
/// row sums are reduced together, two shuffles and an add per step instead of a horizontal sum per row. A row's
/// arithmetic is exactly <see cref="RowDot.F16"/>'s: the same four accumulators fed in the same order, the same tree
/// ((a0 + a1) + (a2 + a3), then within each 128-bit lane (e0 + e1) + (e2 + e3), then (lane 0 + lane 1) + (lane 2 + lane 3),
/// as <see cref="Vector512.Sum{T}(Vector512{T})"/> adds), the same tail; so a row has the same bits whether it is
/// computed here or alone. Short rows gain most: an expert's down slice in 320-value bundle rows spent about a third of
/// its time in the per-row reduction.</summary>
internal static unsafe class F16FourRows
{
    /// <summary>y[0..4) = rows w, w + stride, w + 2·stride, w + 3·stride (<paramref name="stride"/> in halves) · x, with
    /// <paramref name="xScaled"/> and <paramref name="post"/> from <see cref="RowDot.ScaleForF16"/>. A group holding an
    /// inf or NaN weight is computed row by row (<see cref="RowDot.F16"/> redoes such a row exactly).</summary>
    internal static void Compute(ushort* w, long stride, float* x, float* xScaled, float post, int n, float* y)
    {
        ushort* w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        // Accumulators [row][4] as RowDot.F16 keeps them for one row: 16 of the 32 zmm registers.
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        var exponents = Vector512<ushort>.Zero;
        var field = Vector512.Create(RowDot.HalfExponent);
        var i = 0;
        for (; i + 64 <= n; i += 64)
        {
            exponents = Vector512.Max(exponents, Vector512.Max(
                Vector512.Max(Vector512.Max(Vector512.Load(w0 + i) & field, Vector512.Load(w0 + i + 32) & field),
                              Vector512.Max(Vector512.Load(w1 + i) & field, Vector512.Load(w1 + i + 32) & field)),
                Vector512.Max(Vector512.Max(Vector512.Load(w2 + i) & field, Vector512.Load(w2 + i + 32) & field),
                              Vector512.Max(Vector512.Load(w3 + i) & field, Vector512.Load(w3 + i + 32) & field))));
            var x0 = Vector512.Load(xScaled + i);
            a0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w0 + i), x0, a0);
            b0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w1 + i), x0, b0);
            c0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w2 + i), x0, c0);
            d0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w3 + i), x0, d0);
            var x1 = Vector512.Load(xScaled + i + 16);
            a1 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w0 + i + 16), x1, a1);
            b1 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w1 + i + 16), x1, b1);
            c1 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w2 + i + 16), x1, c1);
            d1 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w3 + i + 16), x1, d1);
            var x2 = Vector512.Load(xScaled + i + 32);
            a2 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w0 + i + 32), x2, a2);
            b2 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w1 + i + 32), x2, b2);
            c2 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w2 + i + 32), x2, c2);
            d2 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w3 + i + 32), x2, d2);
            var x3 = Vector512.Load(xScaled + i + 48);
            a3 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w0 + i + 48), x3, a3);
            b3 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w1 + i + 48), x3, b3);
            c3 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w2 + i + 48), x3, c3);
            d3 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w3 + i + 48), x3, d3);
        }
        for (; i + 16 <= n; i += 16)
        {
            exponents = Vector512.Max(exponents, Vector512.Max(
                Vector512.Max(Vector256.Load(w0 + i).ToVector512() & field, Vector256.Load(w1 + i).ToVector512() & field),
                Vector512.Max(Vector256.Load(w2 + i).ToVector512() & field, Vector256.Load(w3 + i).ToVector512() & field)));
            var xv = Vector512.Load(xScaled + i);
            a0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w0 + i), xv, a0);
            b0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w1 + i), xv, b0);
            c0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w2 + i), xv, c0);
            d0 = Avx512F.FusedMultiplyAdd(RowDot.F16Bits16(w3 + i), xv, d0);
        }
        if (Vector512.EqualsAny(exponents, field))
        {
            for (var r = 0; r < 4; r++) y[r] = RowDot.F16(w + r * stride, x, xScaled, post, n);
            return;
        }
        var sums = Sums((a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3), (c0 + c1) + (c2 + c3), (d0 + d1) + (d2 + d3)) * post;
        if (i < n)
        {
            var table = RowDot.HalfTablePtr;
            for (var r = 0; r < 4; r++)
            {
                var sum = sums.GetElement(r);
                var row = w + r * stride;
                for (var j = i; j < n; j++) sum += table[row[j]] * x[j];
                y[r] = sum;
            }
            return;
        }
        sums.Store(y);
    }

    /// <summary>[Σa, Σb, Σc, Σd], each sum in <see cref="Vector512.Sum{T}(Vector512{T})"/>'s order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sums(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        // Per 128-bit lane: [a0+a1, a2+a3, b0+b1, b2+b3] and the same for c, d.
        var ab = Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD);
        var cd = Avx512F.Shuffle(c, d, 0x88) + Avx512F.Shuffle(c, d, 0xDD);
        // Per 128-bit lane: [(a0+a1)+(a2+a3), the same of b, c, d].
        var lanes = Avx512F.Shuffle(ab, cd, 0x88) + Avx512F.Shuffle(ab, cd, 0xDD);
        return (lanes.GetLower().GetLower() + lanes.GetLower().GetUpper()) + (lanes.GetUpper().GetLower() + lanes.GetUpper().GetUpper());
    }
}
