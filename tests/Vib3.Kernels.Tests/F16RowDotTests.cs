using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;

namespace Vib3.Kernels.Tests;

/// <summary>The f16 matvec multiplies each weight's bits as they are (the half times 2^-112) with x·2^112 instead of
/// widening every weight with a multiply: the row sums must keep the exact bits of widening first, for every finite
/// half (subnormals, ±0, ±65504) and for tiny and subnormal x; activations of 2^16 and more take a smaller scale and
/// must stay finite and as close to the reference as the existing bound.</summary>
public class F16RowDotTests
{
    /// <summary>The kernel before the change: widen 16 halves exactly (<see cref="RowDot.F16x16"/>), fused multiply-add
    /// into four accumulators, the same tree and the same scalar tail.</summary>
    private static unsafe float WidenFirst(ushort* w, float* x, int n) => RowDot.Avx512 ? WidenFirst512(w, x, n) : WidenFirst256(w, x, n);

    private static unsafe float WidenFirst512(ushort* w, float* x, int n)
    {
        var i = 0;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<uint> chk = default;
        for (; i + 64 <= n; i += 64)
        {
            a0 = Avx512F.FusedMultiplyAdd(RowDot.F16x16(w + i, ref chk), Vector512.Load(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(RowDot.F16x16(w + i + 16, ref chk), Vector512.Load(x + i + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(RowDot.F16x16(w + i + 32, ref chk), Vector512.Load(x + i + 32), a2);
            a3 = Avx512F.FusedMultiplyAdd(RowDot.F16x16(w + i + 48, ref chk), Vector512.Load(x + i + 48), a3);
        }
        for (; i + 16 <= n; i += 16) a0 = Avx512F.FusedMultiplyAdd(RowDot.F16x16(w + i, ref chk), Vector512.Load(x + i), a0);
        var sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(w[i]) * x[i];
        return sum;
    }

    /// <summary><see cref="WidenFirst512"/> on AVX2: <see cref="RowDot.F16x8"/>, four 8-lane accumulators fed as
    /// the kernel feeds them (of each 16, halves 0–3 and 8–11, then 4–7 and 12–15).</summary>
    private static unsafe float WidenFirst256(ushort* w, float* x, int n)
    {
        var i = 0;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<uint> chk = default;
        var wl = stackalloc ushort[8];
        var xl = stackalloc float[8];
        Vector256<float> Part(int start, int firstQuarter)
        {
            for (var j = 0; j < 4; j++)
            {
                wl[j] = w[start + firstQuarter + j];
                wl[4 + j] = w[start + firstQuarter + 8 + j];
                xl[j] = x[start + firstQuarter + j];
                xl[4 + j] = x[start + firstQuarter + 8 + j];
            }
            return RowDot.F16x8(wl, ref chk);
        }
        for (; i + 32 <= n; i += 32)
        {
            var v = Part(i, 0); a0 = Fma.MultiplyAdd(v, Vector256.Load(xl), a0);
            v = Part(i, 4); a1 = Fma.MultiplyAdd(v, Vector256.Load(xl), a1);
            v = Part(i + 16, 0); a2 = Fma.MultiplyAdd(v, Vector256.Load(xl), a2);
            v = Part(i + 16, 4); a3 = Fma.MultiplyAdd(v, Vector256.Load(xl), a3);
        }
        for (; i + 16 <= n; i += 16)
        {
            var v = Part(i, 0); a0 = Fma.MultiplyAdd(v, Vector256.Load(xl), a0);
            v = Part(i, 4); a1 = Fma.MultiplyAdd(v, Vector256.Load(xl), a1);
        }
        for (; i + 8 <= n; i += 8) a0 = Fma.MultiplyAdd(RowDot.F16x8(w + i, ref chk), Vector256.Load(x + i), a0);
        var sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(w[i]) * x[i];
        return sum;
    }

    /// <summary>Any finite half, subnormals and the extremes over-represented.</summary>
    private static ushort RandomFiniteHalf(Random rng) => rng.Next(4) switch
    {
        0 => (ushort)(rng.Next(0x400) | (rng.Next(2) << 15)),                // subnormal or ±0
        1 => (ushort)(0x7BFF | (rng.Next(2) << 15)),                         // ±65504
        _ => (ushort)(rng.Next(0x7C00) | (rng.Next(2) << 15)),               // any finite
    };

    [Fact]
    public unsafe void ScaledInput_KeepsTheBitsOfWideningEachWeight()
    {
        Assert.SkipUnless(RowDot.Avx512 || RowDot.Avx2Fma, "the f16 kernel's vector paths are AVX-512 and AVX2 + FMA");
        var rng = new Random(3);
        foreach (var cols in new[] { 8, 16, 24, 32, 48, 64, 80, 88, 96, 100, 112, 1024, 2816 })
        {
            var rows = 23 + cols % 3; // groups of four and a tail
            var w = new ushort[rows * cols];
            for (var i = 0; i < w.Length; i++) w[i] = RandomFiniteHalf(rng);
            var x = new float[cols];
            for (var i = 0; i < cols; i++)
                x[i] = rng.Next(4) switch
                {
                    0 => (float)(rng.NextDouble() - 0.5) * 1e-40f, // f32 subnormal
                    1 => (float)(rng.NextDouble() - 0.5) * 1e-20f,
                    2 => (float)(rng.NextDouble() - 0.5) * 65535f, // just below the 2^16 bound
                    _ => (float)(rng.NextDouble() - 0.5),
                };
            var bytes = new byte[w.Length * 2];
            Buffer.BlockCopy(w, 0, bytes, 0, bytes.Length);
            var y = new float[rows];
            MatVec.Compute(DType.F16, bytes, rows, cols, x, y);
            fixed (ushort* pw = w)
            fixed (float* px = x)
                for (var r = 0; r < rows; r++)
                {
                    var expected = WidenFirst(pw + r * cols, px, cols);
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[r]),
                        $"cols {cols} row {r}: widened first {expected}, kernel {y[r]}");
                }
        }
    }

    [Theory]
    [InlineData(65536f)]
    [InlineData(1e12f)]
    [InlineData(3e38f)]
    public void HugeActivations_StayFiniteAndWithinTheReferenceBound(float scale)
    {
        var rng = new Random(4);
        const int rows = 8, cols = 256;
        var (bytes, wf) = TestData.Weights(rng, DType.F16, rows, cols);
        // Weights from TestData are at most ~1 in size, so even 3e38 · Σ|w| stays finite only when few are large: keep
        // one large activation per row block and the rest ordinary.
        var x = TestData.Floats(rng, cols);
        x[5] = scale;
        x[200] = -scale / 3;
        var fast = new float[rows];
        var reference = new float[rows];
        MatVec.Compute(DType.F16, bytes, rows, cols, x, fast);
        MatVec.Reference(DType.F16, bytes, rows, cols, x, reference);
        for (var r = 0; r < rows; r++)
        {
            if (!float.IsFinite(reference[r])) continue; // the exact sum itself overflows f32
            Assert.True(float.IsFinite(fast[r]), $"row {r}: {fast[r]} (reference {reference[r]})");
            var tol = 2e-5 * TestData.AbsDot(wf, r, cols, x) + 1e-30;
            Assert.True(Math.Abs((double)fast[r] - reference[r]) <= tol, $"x·{scale} row {r}: fast {fast[r]} ref {reference[r]} tol {tol}");
        }
    }

    [Fact]
    public void InfiniteAndNaNActivations_PropagateAsIEEESays()
    {
        const int cols = 64;
        var w = new byte[2 * cols];
        for (var c = 0; c < cols; c++) BitConverter.TryWriteBytes(w.AsSpan(2 * c), (Half)0.5f);
        var x = new float[cols];
        x[3] = float.PositiveInfinity;
        var y = new float[1];
        MatVec.Compute(DType.F16, w, 1, cols, x, y);
        Assert.Equal(float.PositiveInfinity, y[0]);
        x[3] = float.NaN;
        MatVec.Compute(DType.F16, w, 1, cols, x, y);
        Assert.True(float.IsNaN(y[0]));
    }
}
