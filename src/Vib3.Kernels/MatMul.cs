using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;

namespace Vib3.Kernels;

/// <summary>Batched matvec for prefill: X is [n, cols], Y is [n, rows], Y[i,r] = Σ_c W[r,c]·X[i,c].</summary>
/// <remarks>
/// f32/f16/bf16: four weight rows at a time are widened to an f32 panel (thread-local, reused for every input),
/// then a 4-row × 4-input register tile (16 AVX-512 accumulators) runs over the columns, so each loaded weight
/// vector feeds four FMAs and each x vector four more: compute-bound, the weights cross DRAM once per call.
/// Results differ from <see cref="MatVec"/> only by f32 summation order.
/// Block types with an integer row kernel (q8_0, the legacy 4/5-bit types, the K-quants, IQ4_XS): see
/// <see cref="BlockBatch"/> — each input quantised once, row tiles reused across all inputs, every output equal to
/// the single-input kernel's bit for bit. Other block types run one matvec per input.
/// Rows are split over <see cref="KernelThreads"/> when the work is large.
/// </remarks>
public static unsafe class MatMul
{
    public static void Compute(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, n);
        if (rows == 0 || n == 0) return;
        if (BlockBatch.Handles(t)) { BlockBatch.Compute(t, w, rows, cols, x, n, y); return; }
        if (n == 1 || !(RowDot.Avx512 || RowDot.Avx2Fma) || t.IsBlocked()) { ComputeRows(t, w, rows, cols, x, n, y); return; }
        var rowBytes = (int)t.ByteCount(cols);
        fixed (byte* pw = w)
        fixed (float* px = x)
        fixed (float* py = y)
        {
            var job = new Job(t, pw, rowBytes, rows, cols, px, n, py);
            var quads = (rows + 3) / 4;
            if ((long)rows * cols * n < 1 << 20 || KernelThreads.Threads == 1 || quads < 2)
            {
                job.Quads(0, quads);
            }
            else
            {
                job.Total = quads;
                job.Chunk = Math.Max(1, Math.Min(8, quads / (4 * KernelThreads.Threads)));
                KernelThreads.Run(job);
            }
        }
    }

    /// <summary><see cref="Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, int, Span{float})"/> of
    /// weights in <paramref name="layout"/>: held interleaved (<see cref="WeightLayout.Interleaved"/>), the tile
    /// kernel reads them as they are, for any number of inputs; the same bits.</summary>
    public static void Compute(DType t, WeightLayout layout, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        if (layout == WeightLayout.Rows)
        {
            Compute(t, w, rows, cols, x, n, y);
            return;
        }
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, n);
        if (!Quant.InterleavedMatrix.Supports(t)) throw new ArgumentException($"{t.Name()} matrices are not held interleaved on this CPU");
        if (n > 0) BlockBatch.Compute(t, w, rows, cols, x, n, y, interleaved: true);
    }

    /// <summary>Per-input MatVec (a CPU without AVX-512 or AVX2 and FMA, and the block types without a batched kernel).</summary>
    private static void ComputeRows(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        for (var i = 0; i < n; i++) MatVec.Compute(t, w, rows, cols, x.Slice(i * cols, cols), y.Slice(i * rows, rows));
    }

    [ThreadStatic] private static float[]? _panel;

    private sealed class Job(DType t, byte* w, int rowBytes, int rows, int cols, float* x, int n, float* y) : PoolJob
    {
        protected override void Run(int start, int end) => Quads(start, end);

        internal void Quads(int startQuad, int endQuad)
        {
            var panel = _panel is { } p && p.Length >= 4 * cols ? p : _panel = GC.AllocateUninitializedArray<float>(Math.Max(64, 4 * cols), pinned: true);
            fixed (float* pp = panel)
            {
                var wr = stackalloc float*[4];
                var xr = stackalloc float*[4];
                var outTile = stackalloc float[16];
                for (var q = startQuad; q < endQuad; q++)
                {
                    var r0 = q * 4;
                    var rb = Math.Min(4, rows - r0);
                    for (var k = 0; k < 4; k++)
                    {
                        var r = r0 + Math.Min(k, rb - 1); // pad a short quad with its last row (results dropped)
                        var src = w + (long)r * rowBytes;
                        if (t == DType.F32) wr[k] = (float*)src;
                        else { wr[k] = pp + k * cols; if (k < rb) Widen(t, (ushort*)src, wr[k], cols); else wr[k] = wr[rb - 1]; }
                    }
                    for (var i0 = 0; i0 < n; i0 += 4)
                    {
                        var nb = Math.Min(4, n - i0);
                        for (var k = 0; k < 4; k++) xr[k] = x + (long)(i0 + Math.Min(k, nb - 1)) * cols;
                        if (RowDot.Avx512) Tile(wr, xr, cols, outTile);
                        else { TileHalf(wr, xr, cols, outTile); TileHalf(wr, xr + 2, cols, outTile + 2); }
                        for (var ii = 0; ii < nb; ii++)
                            for (var rr = 0; rr < rb; rr++)
                                y[(long)(i0 + ii) * rows + r0 + rr] = outTile[rr * 4 + ii];
                    }
                }
            }
        }
    }

    private static void Widen(DType t, ushort* src, float* dst, int cols)
    {
        var i = 0;
        if (t == DType.BF16)
        {
            if (RowDot.Avx512) for (; i + 16 <= cols; i += 16) RowDot.Bf16x16(src + i).Store(dst + i);
            else for (; i + 8 <= cols; i += 8) RowDot.Bf16x8(src + i).Store(dst + i);
            for (; i < cols; i++) dst[i] = DTypeConvert.BF16ToFloat(src[i]);
        }
        else if (!RowDot.Avx512)
        {
            var table = RowDot.HalfTablePtr;
            var chk = Vector256<uint>.Zero;
            for (; i + 8 <= cols; i += 8) RowDot.F16x8(src + i, ref chk).Store(dst + i);
            if (Vector256.EqualsAny(chk, Vector256<uint>.AllBitsSet)) i = 0; // inf/NaN present: redo exactly
            for (; i < cols; i++) dst[i] = table[src[i]];
        }
        else
        {
            var table = RowDot.HalfTablePtr;
            var chk = Vector512<uint>.Zero;
            for (; i + 16 <= cols; i += 16) RowDot.F16x16(src + i, ref chk).Store(dst + i);
            if (Vector512.EqualsAny(chk, Vector512<uint>.AllBitsSet)) i = 0; // inf/NaN present: redo exactly
            for (; i < cols; i++) dst[i] = table[src[i]];
        }
    }

    /// <summary>out[r·4 + i] = Σ_c w[r][c]·x[i][c] for a 4×4 tile: 16 accumulators, 8 loads per 16 FMAs.</summary>
    private static void Tile(float** w, float** x, int cols, float* o)
    {
        float* w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        float* x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        var c = 0;
        for (; c + 16 <= cols; c += 16)
        {
            var v0 = Vector512.Load(x0 + c); var v1 = Vector512.Load(x1 + c);
            var v2 = Vector512.Load(x2 + c); var v3 = Vector512.Load(x3 + c);
            var u = Vector512.Load(w0 + c);
            a00 = Avx512F.FusedMultiplyAdd(u, v0, a00); a01 = Avx512F.FusedMultiplyAdd(u, v1, a01);
            a02 = Avx512F.FusedMultiplyAdd(u, v2, a02); a03 = Avx512F.FusedMultiplyAdd(u, v3, a03);
            u = Vector512.Load(w1 + c);
            a10 = Avx512F.FusedMultiplyAdd(u, v0, a10); a11 = Avx512F.FusedMultiplyAdd(u, v1, a11);
            a12 = Avx512F.FusedMultiplyAdd(u, v2, a12); a13 = Avx512F.FusedMultiplyAdd(u, v3, a13);
            u = Vector512.Load(w2 + c);
            a20 = Avx512F.FusedMultiplyAdd(u, v0, a20); a21 = Avx512F.FusedMultiplyAdd(u, v1, a21);
            a22 = Avx512F.FusedMultiplyAdd(u, v2, a22); a23 = Avx512F.FusedMultiplyAdd(u, v3, a23);
            u = Vector512.Load(w3 + c);
            a30 = Avx512F.FusedMultiplyAdd(u, v0, a30); a31 = Avx512F.FusedMultiplyAdd(u, v1, a31);
            a32 = Avx512F.FusedMultiplyAdd(u, v2, a32); a33 = Avx512F.FusedMultiplyAdd(u, v3, a33);
        }
        o[0] = Vector512.Sum(a00); o[1] = Vector512.Sum(a01); o[2] = Vector512.Sum(a02); o[3] = Vector512.Sum(a03);
        o[4] = Vector512.Sum(a10); o[5] = Vector512.Sum(a11); o[6] = Vector512.Sum(a12); o[7] = Vector512.Sum(a13);
        o[8] = Vector512.Sum(a20); o[9] = Vector512.Sum(a21); o[10] = Vector512.Sum(a22); o[11] = Vector512.Sum(a23);
        o[12] = Vector512.Sum(a30); o[13] = Vector512.Sum(a31); o[14] = Vector512.Sum(a32); o[15] = Vector512.Sum(a33);
        for (; c < cols; c++)
            for (var r = 0; r < 4; r++)
                for (var i = 0; i < 4; i++)
                    o[r * 4 + i] += w[r][c] * x[i][c];
    }

    /// <summary><see cref="Tile"/>'s 4 rows × the first 2 inputs of <paramref name="x"/> on AVX2 (16 registers: 8
    /// accumulators, 2 inputs, a weight), written to o[r·4 + i]; the caller runs it for inputs 0–1 and 2–3, the
    /// weight rows still in L1.</summary>
    private static void TileHalf(float** w, float** x, int cols, float* o)
    {
        float* w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        float* x0 = x[0], x1 = x[1];
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
        Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
        var c = 0;
        for (; c + 8 <= cols; c += 8)
        {
            var v0 = Vector256.Load(x0 + c); var v1 = Vector256.Load(x1 + c);
            var u = Vector256.Load(w0 + c);
            a00 = Fma.MultiplyAdd(u, v0, a00); a01 = Fma.MultiplyAdd(u, v1, a01);
            u = Vector256.Load(w1 + c);
            a10 = Fma.MultiplyAdd(u, v0, a10); a11 = Fma.MultiplyAdd(u, v1, a11);
            u = Vector256.Load(w2 + c);
            a20 = Fma.MultiplyAdd(u, v0, a20); a21 = Fma.MultiplyAdd(u, v1, a21);
            u = Vector256.Load(w3 + c);
            a30 = Fma.MultiplyAdd(u, v0, a30); a31 = Fma.MultiplyAdd(u, v1, a31);
        }
        o[0] = Vector256.Sum(a00); o[1] = Vector256.Sum(a01);
        o[4] = Vector256.Sum(a10); o[5] = Vector256.Sum(a11);
        o[8] = Vector256.Sum(a20); o[9] = Vector256.Sum(a21);
        o[12] = Vector256.Sum(a30); o[13] = Vector256.Sum(a31);
        for (; c < cols; c++)
            for (var r = 0; r < 4; r++)
                for (var i = 0; i < 2; i++)
                    o[r * 4 + i] += w[r][c] * x[i][c];
    }

    /// <summary>Scalar oracle: dequantise each row, accumulate in double.</summary>
    public static void Reference(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, n);
        var rowBytes = (int)t.ByteCount(cols);
        var row = new float[cols];
        for (var r = 0; r < rows; r++)
        {
            DTypeConvert.ToF32(t, w.Slice(r * rowBytes, rowBytes), row);
            for (var i = 0; i < n; i++)
            {
                var xi = x.Slice(i * cols, cols);
                double s = 0;
                for (var c = 0; c < cols; c++) s += (double)row[c] * xi[c];
                y[i * rows + r] = (float)s;
            }
        }
    }
}
