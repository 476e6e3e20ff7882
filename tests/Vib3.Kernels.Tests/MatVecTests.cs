using Vib3.Core;

namespace Vib3.Kernels.Tests;

public class MatVecTests
{
    // f32 summation with FMA into 4×16 lanes then a tree: error ≤ ~(cols/64 + 10)·2^-24·Σ|w·x|;
    // for cols ≤ 16K that is < 1.5e-5, so 2e-5·Σ|w·x| (+1e-30 for all-zero rows) is a real bound, not a fudge.
    private const double RelTol = 2e-5;

    public static IEnumerable<object[]> Types() => TestData.AllTypes.Select(t => new object[] { t });

    private static void Compare(DType t, int rows, int cols, Random rng)
    {
        var (bytes, wf) = TestData.Weights(rng, t, rows, cols);
        var x = TestData.Floats(rng, cols);
        var fast = new float[rows];
        var reference = new float[rows];
        MatVec.Compute(t, bytes, rows, cols, x, fast);
        MatVec.Reference(t, bytes, rows, cols, x, reference);
        for (var r = 0; r < rows; r++)
        {
            var tol = RelTol * TestData.AbsDot(wf, r, cols, x) + 1e-30;
            if (t.IsBlocked()) tol += TestData.Q8ActivationBound(t, wf, r, cols, x);
            var err = Math.Abs((double)fast[r] - reference[r]);
            Assert.True(err <= tol, $"{t} {rows}x{cols} row {r}: fast {fast[r]} ref {reference[r]} err {err} tol {tol}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryLength_0_to_257(DType t)
    {
        var rng = new Random(42 + (int)t);
        for (var cols = 0; cols <= 257; cols++)
        {
            if (cols % t.BlockSize() != 0) continue;
            foreach (var rows in new[] { 1, 2, 3, 7 })
                Compare(t, rows, cols, rng);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void RowCounts(DType t)
    {
        var rng = new Random(7);
        var cols = Math.Max(96, t.BlockSize()); // 96: three q8_0 blocks; the 256-value types need one whole block
        for (var rows = 0; rows <= 40; rows++) Compare(t, rows, cols, rng);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Multithreaded_LargeRows(DType t)
    {
        var rng = new Random(9);
        // Well above ParallelBytes: split over the worker pool; odd row counts leave a ragged last chunk.
        Compare(t, 4099, 512, rng);
        Compare(t, 333, 4096, rng);
        for (var i = 0; i < 50; i++) Compare(t, 97 + i, 1024, rng); // back-to-back calls: the pool's hand-off
    }

    [Fact]
    public void Multithreaded_ConcurrentCallers()
    {
        var errors = 0;
        Parallel.For(0, 8, k =>
        {
            try
            {
                var rng = new Random(100 + k);
                for (var i = 0; i < 10; i++) Compare(TestData.AllTypes[(k + i) % 4], 1200 + k, 256, rng);
            }
            catch { Interlocked.Increment(ref errors); throw; }
        });
        Assert.Equal(0, errors);
    }

    /// <summary>The q8_0 fast path equals a scalar model of llama.cpp's scheme (x quantised to q8_0, integer block
    /// dots) up to f32 summation order — a much tighter check of the integer path than the bound above.</summary>
    [Fact]
    public void Q8_MatchesQuantisedActivationModel()
    {
        var rng = new Random(5);
        foreach (var cols in new[] { 32, 64, 96, 256, 4096 })
        {
            const int rows = 9;
            var (bytes, wf) = TestData.Weights(rng, DType.Q8_0, rows, cols);
            var x = TestData.Floats(rng, cols, 3f);
            x[1] = 0; // and one all-zero block
            if (cols >= 64) for (var j = 32; j < 64; j++) x[j] = 0;
            var xhat = new float[cols];
            for (var b = 0; b < cols / 32; b++)
            {
                float amax = 0;
                for (var j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[b * 32 + j]));
                var d = (float)(Half)(amax / 127f);
                var id = amax != 0 ? 127f / amax : 0f;
                for (var j = 0; j < 32; j++) xhat[b * 32 + j] = MathF.Round(x[b * 32 + j] * id, MidpointRounding.ToEven) * d;
            }
            var fast = new float[rows];
            MatVec.Compute(DType.Q8_0, bytes, rows, cols, x, fast);
            for (var r = 0; r < rows; r++)
            {
                double s = 0, a = 0;
                for (var c = 0; c < cols; c++) { s += (double)wf[r * cols + c] * xhat[c]; a += Math.Abs((double)wf[r * cols + c] * xhat[c]); }
                Assert.True(Math.Abs(fast[r] - s) <= RelTol * a + 1e-30, $"cols {cols} row {r}: {fast[r]} vs {s}");
            }
        }
    }

    [Fact]
    public unsafe void F16Conversion_AllBitPatterns()
    {
        Assert.SkipUnless(RowDot.Avx512, "RowDot.F16x16 is the AVX-512 path; this CPU lacks AVX-512 F and BW");
        var bits = new ushort[65536];
        for (var i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
        {
            for (var i = 0; i < bits.Length; i += 16)
            {
                var check = System.Runtime.Intrinsics.Vector512<uint>.Zero;
                var v = RowDot.F16x16(p + i, ref check);
                var anyInfNan = false;
                for (var j = 0; j < 16; j++)
                {
                    var h = BitConverter.UInt16BitsToHalf((ushort)(i + j));
                    if (Half.IsNaN(h) || Half.IsInfinity(h)) { anyInfNan = true; continue; }
                    Assert.Equal(BitConverter.SingleToUInt32Bits((float)h), BitConverter.SingleToUInt32Bits(v[j]));
                }
                Assert.Equal(anyInfNan, System.Runtime.Intrinsics.Vector512.EqualsAny(check, System.Runtime.Intrinsics.Vector512<uint>.AllBitsSet));
            }
        }
    }

    [Fact]
    public unsafe void F16Conversion_AllBitPatterns_Avx2()
    {
        Assert.SkipUnless(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "RowDot.F16x8 is the AVX2 path; this CPU lacks AVX2");
        var bits = new ushort[65536];
        for (var i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
        {
            for (var i = 0; i < bits.Length; i += 8)
            {
                var check = System.Runtime.Intrinsics.Vector256<uint>.Zero;
                var v = RowDot.F16x8(p + i, ref check);
                var anyInfNan = false;
                for (var j = 0; j < 8; j++)
                {
                    var h = BitConverter.UInt16BitsToHalf((ushort)(i + j));
                    if (Half.IsNaN(h) || Half.IsInfinity(h)) { anyInfNan = true; continue; }
                    Assert.Equal(BitConverter.SingleToUInt32Bits((float)h), BitConverter.SingleToUInt32Bits(v[j]));
                }
                Assert.Equal(anyInfNan, System.Runtime.Intrinsics.Vector256.EqualsAny(check, System.Runtime.Intrinsics.Vector256<uint>.AllBitsSet));
            }
        }
    }

    [Fact]
    public void F16_InfAndNaNWeightsMatchReference()
    {
        const int cols = 64;
        var w = new Half[cols];
        for (var i = 0; i < cols; i++) w[i] = (Half)1f;
        var x = new float[cols];
        x[0] = 1;
        var bytes = new byte[cols * 2];
        foreach (var special in new[] { Half.PositiveInfinity, Half.NegativeInfinity, Half.NaN })
        {
            w[40] = special;
            for (var i = 0; i < cols; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), BitConverter.HalfToUInt16Bits(w[i]));
            x[40] = 0.5f;
            var y = new float[1];
            var yr = new float[1];
            MatVec.Compute(DType.F16, bytes, 1, cols, x, y);
            MatVec.Reference(DType.F16, bytes, 1, cols, x, yr);
            Assert.Equal(yr[0], y[0]);
        }
    }

    /// <summary>Rows are computed four at a time where the CPU allows: an inf or NaN weight in one row of a group must
    /// give that row the reference's value and leave the other rows' bits as they are alone.</summary>
    [Fact]
    public void F16_InfAndNaNWeightInAGroupOfRows()
    {
        const int rows = 5, cols = 80;
        var rng = new Random(9);
        foreach (var special in new[] { Half.PositiveInfinity, Half.NegativeInfinity, Half.NaN })
            for (var bad = 0; bad < rows; bad++)
            {
                var bytes = new byte[rows * cols * 2];
                for (var i = 0; i < rows * cols; i++)
                    BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((Half)(float)(rng.NextDouble() - 0.5)));
                BitConverter.TryWriteBytes(bytes.AsSpan(2 * (bad * cols + 70)), BitConverter.HalfToUInt16Bits(special));
                var x = TestData.Floats(rng, cols);
                var y = new float[rows];
                MatVec.Compute(DType.F16, bytes, rows, cols, x, y);
                for (var r = 0; r < rows; r++)
                {
                    var alone = new float[1];
                    var row = bytes.AsSpan(r * cols * 2, cols * 2).ToArray();
                    if (r == bad) MatVec.Reference(DType.F16, row, 1, cols, x, alone);
                    else MatVec.Compute(DType.F16, row, 1, cols, x, alone);
                    Assert.True(BitConverter.SingleToInt32Bits(alone[0]) == BitConverter.SingleToInt32Bits(y[r]) || (float.IsNaN(alone[0]) && float.IsNaN(y[r])),
                        $"{special} in row {bad}: row {r} gave {y[r]}, alone {alone[0]}");
                }
            }
    }

    [Fact]
    public void RejectsShortSpans()
    {
        Assert.Throws<ArgumentException>(() => MatVec.Compute(DType.F32, new byte[15], 2, 2, new float[2], new float[2]));
        Assert.Throws<ArgumentException>(() => MatVec.Compute(DType.F32, new byte[16], 2, 2, new float[1], new float[2]));
        Assert.Throws<ArgumentException>(() => MatVec.Compute(DType.Q8_0, new byte[340], 1, 33, new float[33], new float[1]));
    }
}
