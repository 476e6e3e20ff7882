using System.Buffers;
using Vib3.Core;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels;

/// <summary>
/// Y[i, r] = W[r]·X[i] for the block-quantised types, reading each weight block from memory once for all n inputs:
/// every input is quantised once (q8_0 blocks for Q8_0, the legacy 4/5-bit types and IQ4_NL, q8_K for the K-quants
/// and IQ4_XS, as their matvec kernels take them), then the rows are cut into tiles of <see cref="TileRows"/>; a tile's
/// weights (a few KiB a row) stay in L1/L2 while every input passes over them, <see cref="KQuantRow.MaxInputs"/>
/// inputs per row kernel call. Each output is computed by the single-input row kernel's own code and order, so Y
/// equals n separate matvecs bit for bit. From <see cref="KQuantTiles.MinInputs"/> inputs, the K-quant types that have
/// one (<see cref="KQuantTiles"/>) run a tile's rows eight at a time through the interleaved tile kernel
/// (<see cref="TileDot{TFormat}"/>), which computes the row kernel's integers and float chain with the rows in vector
/// lanes: the same bits. Tiles are split over <see cref="KernelThreads"/> when the work is large.
/// </summary>
internal static unsafe class BlockBatch
{
    /// <summary>Weight rows per tile: 16 rows of a 4096-wide Q4_K matrix are 37 KiB, L2-resident while the inputs
    /// pass; a whole tile is also the unit a thread claims.</summary>
    private const int TileRows = 16;

    /// <summary>Multiply-adds (rows·cols·n) below which the batch runs on the calling thread only.</summary>
    private const long ParallelWork = 1 << 16;

    private const int Align = 64;

    public static bool Handles(DType t) =>
        t == DType.Q8_0 || LegacyDots.Has(t) || KQuantDots.For(t) != null;

    /// <param name="interleaved">The weights are held interleaved (<see cref="WeightLayout.Interleaved"/>, Q4_K, Q5_K or Q6_K:
    /// whole groups of eight rows, then a tail as stored): the tile kernel reads them as they are, whatever n.</param>
    public static void Compute(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, int n, Span<float> y, bool interleaved = false)
    {
        var kernel = KQuantDots.For(t);
        var qk = kernel != null;
        long q8kStride = (long)cols / Q8K.BlockValues * Q8K.BlockBytes;
        var q8Blocks = cols / DTypes.Q8BlockSize;
        var legacy = LegacyDots.For(t);
        var sums = LegacyDots.NeedsSums(t);
        // One pinned scratch: q8_K rows, or q8_0 quants (int16 for Q8_0, int8 for the other 32-value types) + scales
        // + the q8_1 sums where the type needs them.
        long quantBytes = qk ? n * q8kStride : Round((long)n * cols * (legacy != null ? sizeof(sbyte) : sizeof(short)));
        long scaleBytes = qk ? 0 : Round((long)n * q8Blocks * sizeof(float));
        var scratch = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, quantBytes + (sums ? 2 : 1) * scaleBytes + Align));
        try
        {
            fixed (byte* pw = w)
            fixed (float* px = x)
            fixed (float* py = y)
            fixed (byte* ps = scratch)
            {
                var q = (byte*)(((nint)ps + Align - 1) & ~(nint)(Align - 1));
                Job job;
                if (qk)
                {
                    for (var i = 0; i < n; i++) Q8K.Quantize(x.Slice(i * cols, cols), new Span<byte>(q + i * q8kStride, (int)q8kStride));
                    job = interleaved
                        ? new InterleavedJob(kernel, KQuantTiles.Interleaved(t), q, q8kStride, cols / Q8K.BlockValues)
                        : new KQuantJob(kernel, KQuantTiles.For(t), q, q8kStride, cols / Q8K.BlockValues);
                }
                else if (legacy != null)
                {
                    var xb = (sbyte*)q;
                    var xd = (float*)(q + quantBytes);
                    var xs = sums ? (float*)(q + quantBytes + scaleBytes) : null;
                    for (var i = 0; i < n; i++)
                        RowDot.QuantizeQ8Bytes(px + (long)i * cols, q8Blocks, xb + (long)i * cols, xd + (long)i * q8Blocks, xs == null ? null : xs + (long)i * q8Blocks);
                    job = new LegacyJob(legacy, xb, xd, xs, cols, q8Blocks);
                }
                else
                {
                    var xq = (short*)q;
                    var xd = (float*)(q + quantBytes);
                    for (var i = 0; i < n; i++)
                        RowDot.QuantizeQ8(px + (long)i * cols, q8Blocks, xq + (long)i * cols, xd + (long)i * q8Blocks);
                    job = new Q8Job(xq, xd, cols, q8Blocks);
                }
                job.Set(pw, t.ByteCount(cols), rows, n, py);
                var tiles = (rows + TileRows - 1) / TileRows;
                if ((long)rows * cols * n < ParallelWork || KernelThreads.Threads == 1 || tiles < 2)
                {
                    job.Tiles(0, tiles);
                }
                else
                {
                    job.Total = tiles;
                    job.Chunk = 1;
                    KernelThreads.Run(job);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static long Round(long bytes) => (bytes + Align - 1) / Align * Align;

    /// <summary>The tile loop; a subclass dots one weight row with up to <see cref="KQuantRow.MaxInputs"/> inputs.</summary>
    private abstract class Job : PoolJob
    {
        private byte* _w;
        private long _rowBytes;
        private int _rows, _n;
        private float* _y;

        public void Set(byte* w, long rowBytes, int rows, int n, float* y)
        {
            _w = w;
            _y = y;
            (_rowBytes, _rows, _n) = (rowBytes, rows, n);
        }

        /// <summary>output[k] = row · input (first + k), k &lt; count.</summary>
        protected abstract void Dot(byte* row, int first, int count, float* output);

        protected override void Run(int start, int end) => Tiles(start, end);

        public void Tiles(int startTile, int endTile)
        {
            for (var tile = startTile; tile < endTile; tile++)
            {
                var r0 = tile * TileRows;
                Rows(r0, Math.Min(_rows, r0 + TileRows));
            }
        }

        /// <summary>Rows [r0, r1) of one tile against every input.</summary>
        protected virtual void Rows(int r0, int r1) => RowByRow(r0, r1);

        /// <summary>Rows [r0, r1) against every input, <see cref="KQuantRow.MaxInputs"/> inputs per <see cref="Dot"/>.</summary>
        protected void RowByRow(int r0, int r1)
        {
            var output = stackalloc float[KQuantRow.MaxInputs];
            for (var i0 = 0; i0 < _n; i0 += KQuantRow.MaxInputs)
            {
                var count = Math.Min(KQuantRow.MaxInputs, _n - i0);
                for (var r = r0; r < r1; r++)
                {
                    Dot(_w + r * _rowBytes, i0, count, output);
                    for (var k = 0; k < count; k++) _y[(long)(i0 + k) * _rows + r] = output[k];
                }
            }
        }

        /// <summary>Rows [r0, r1) of the tile as groups of <see cref="KQuantTiles.Rows"/> through
        /// <paramref name="tile"/>, the rows left over one by one.</summary>
        protected void InterleavedRows(int r0, int r1, delegate*<byte*, long, byte*, long, int, int, float*, long, void> tile, byte* q8k, long stride, int blocks)
        {
            var r = r0;
            for (; r + KQuantTiles.Rows <= r1; r += KQuantTiles.Rows) tile(_w + r * _rowBytes, _rowBytes, q8k, stride, _n, blocks, _y + r, _rows);
            if (r < r1) RowByRow(r, r1);
        }

        /// <summary>Inputs in the batch.</summary>
        protected int Inputs => _n;

        /// <summary>Rows [r0, r1) of interleaved weights (r0 a multiple of eight): the whole groups through
        /// <paramref name="tile"/>, the rows after the matrix's last whole group (stored as they are) one by one.</summary>
        protected void InterleavedGroups(int r0, int r1, delegate*<byte*, byte*, long, int, int, float*, long, void> tile, byte* q8k, long stride, int blocks)
        {
            var r = r0;
            for (; r + KQuantTiles.Rows <= r1; r += KQuantTiles.Rows) tile(_w + r * _rowBytes, q8k, stride, _n, blocks, _y + r, _rows);
            if (r < r1) RowByRow(r, r1);
        }
    }

    /// <summary>Weights held interleaved (<see cref="WeightLayout.Interleaved"/>): every whole group of eight rows
    /// through the interleaved tile kernel, whatever the number of inputs; a tail of fewer rows through the row kernel.</summary>
    private sealed class InterleavedJob(delegate*<IntegerTier, byte*, byte*, long, int, int, float*, void> kernel,
        delegate*<byte*, byte*, long, int, int, float*, long, void> tile, byte* q8k, long stride, int blocks) : Job
    {
        protected override void Rows(int r0, int r1) => InterleavedGroups(r0, r1, tile, q8k, stride, blocks);

        protected override void Dot(byte* row, int first, int count, float* output) =>
            kernel(IntegerTiers.Best, row, q8k + first * stride, stride, count, blocks, output);
    }

    /// <param name="tile">The format's interleaved tile kernel (<see cref="KQuantTiles"/>), or null.</param>
    private sealed class KQuantJob(delegate*<IntegerTier, byte*, byte*, long, int, int, float*, void> kernel,
        delegate*<byte*, long, byte*, long, int, int, float*, long, void> tile, byte* q8k, long stride, int blocks) : Job
    {
        protected override void Rows(int r0, int r1)
        {
            if (tile != null && Inputs >= KQuantTiles.MinInputs) InterleavedRows(r0, r1, tile, q8k, stride, blocks);
            else base.Rows(r0, r1);
        }

        protected override void Dot(byte* row, int first, int count, float* output) =>
            kernel(IntegerTiers.Best, row, q8k + first * stride, stride, count, blocks, output);
    }

    /// <summary>q8_0: four inputs share each widened weight block (<see cref="RowDot.Q8x4"/>, AVX-512 or AVX2), else one at a time.</summary>
    private sealed class Q8Job(short* xq, float* xd, int cols, int blocks) : Job
    {
        protected override void Dot(byte* row, int first, int count, float* output)
        {
            if (count == 4 && (RowDot.Avx512 || RowDot.Avx2Fma))
            {
                RowDot.Q8x4(row, xq + (long)first * cols, cols, xd + (long)first * blocks, blocks, blocks, output);
                return;
            }
            for (var k = 0; k < count; k++)
                output[k] = RowDot.Q8(row, xq + (long)(first + k) * cols, xd + (long)(first + k) * blocks, blocks);
        }
    }

    /// <summary>The 32-value types' row kernel (<see cref="LegacyDots"/>): up to four inputs share each unpacked weight
    /// block, every output in the single-input order.</summary>
    private sealed class LegacyJob(delegate*<IntegerTier, byte*, sbyte*, float*, float*, int, int, float*, void> kernel,
        sbyte* xq, float* xd, float* xs, int cols, int blocks) : Job
    {
        protected override void Dot(byte* row, int first, int count, float* output) =>
            kernel(IntegerTiers.Best, row, xq + (long)first * cols, xd + (long)first * blocks, xs == null ? null : xs + (long)first * blocks, count, blocks, output);
    }
}
