using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels;

/// <summary>y[r] = Σ_c W[r,c]·x[c] for a row-major <c>rows × cols</c> weight matrix stored as <see cref="DType"/>.</summary>
/// <remarks>
/// Fast path (<see cref="Compute"/>): AVX-512 or AVX2 + FMA row dot products, four f32 accumulators per row, each
/// row's successor 4 KiB on prefetched (<see cref="PrefetchBytes"/>).
/// f32/f16/bf16 weights are widened exactly to f32 and multiplied with f32 x (results differ from the
/// reference only by f32 summation order); f16 weights are multiplied as their bits read (the half times 2^-112) with
/// x·2^112, which gives the same products without a multiply per weight (<see cref="RowDot.ScaleForF16"/>). q8_0 weights use llama.cpp's scheme: x is first quantised to q8_0
/// (per 32-block d_x = amax/127 rounded to f16, q_x = round-half-even(x·127/amax)), then each block is an exact
/// int8·int8 dot scaled by d_w·d_x in f32. That adds an activation rounding error of up to d_x/2 per element
/// (≈ 0.4% of the block's max |x|), i.e. |Δy| ≲ Σ_b |d_w|·Σ_j|q_w|·d_x/2 — the same error llama.cpp has.
/// q4_0/q4_1/q5_0/q5_1 and iq4_nl weights take the same q8_0 activations (as int8) and integer block products in
/// their SIMD row kernels (<see cref="LegacyDots"/>). The types in 256-value blocks (K-quants, iq4_xs, tq1_0, tq2_0, the IQ2/IQ3/IQ1 types) take x
/// quantised to Q8_K (<see cref="Q8K.Quantize"/>: f32 d = amax/127 per 256 values, so |x̂ − x| ≤ d/2) and integer
/// sub-block products, as llama.cpp does, through their SIMD row kernels (<see cref="KQuantDots"/>).
/// Work above <see cref="ParallelBytes"/> of weights is split over <see cref="KernelThreads"/> in row chunks.
/// </remarks>
public static unsafe class MatVec
{
    /// <summary>Weights (bytes) below which a matvec runs on the calling thread only.</summary>
    public static int ParallelBytes { get; set; } = 64 * 1024;

    /// <summary>How far ahead of the row being dotted a matvec asks for weights: the row that starts this many bytes
    /// on is prefetched whole. Decode streams each weight once, from DRAM; the hardware prefetcher alone left 2-thread
    /// decode 9–16 % short of this on a Zen 2 (4 KiB measured best, against rows 1–8 and 8 KiB, on Q4_K_M and Q8_0).</summary>
    private const int PrefetchBytes = 4096;

    private const int GuideMinBytes = 64 * 1024;
    private const int GuideDivisor = 2;

    /// <summary>Fast path. See the type remarks for the q8_0 rounding. x is quantised for this call alone (in this
    /// thread's scratch <see cref="MatVecInput"/>); a vector that several matvecs multiply is quantised once by
    /// passing one <see cref="MatVecInput"/> to all of them.</summary>
    public static void Compute(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, Span<float> y) =>
        Compute(t, WeightLayout.Rows, w, rows, cols, x, y);

    /// <summary>The calling thread's input for <see cref="Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, Span{float})"/>,
    /// grown to the longest vector it has been given.</summary>
    [ThreadStatic] private static MatVecInput? _scratch;

    /// <summary><see cref="Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, Span{float})"/> of the
    /// vector <paramref name="x"/> holds (its length is cols), with the quantised form x already has for the kernel
    /// of <paramref name="t"/> or makes now and keeps for the next matvec: the same bits as quantising per call.</summary>
    public static void Compute(DType t, ReadOnlySpan<byte> w, int rows, int cols, MatVecInput x, Span<float> y)
    {
        if (x.Length != cols) throw new ArgumentException($"x: holds {x.Length} values, the weights have {cols} columns");
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, 1);
        if (rows == 0) return;
        var p = x.Prepare(t);
        fixed (byte* pw = w)
        fixed (float* py = y)
            Run(new Job(t, pw, (int)t.ByteCount(cols), cols, p, py), rows);
    }

    /// <summary><see cref="Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, Span{float})"/> of weights
    /// in <paramref name="layout"/>.</summary>
    public static void Compute(DType t, WeightLayout layout, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, Span<float> y)
    {
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, 1);
        var input = _scratch is { } s && s.Capacity >= cols ? s : _scratch = new MatVecInput(cols);
        input.Set(x[..cols]);
        Compute(t, layout, w, rows, cols, input, y);
    }

    /// <summary><see cref="Compute(DType, ReadOnlySpan{byte}, int, int, MatVecInput, Span{float})"/> of weights in
    /// <paramref name="layout"/>: held interleaved (<see cref="WeightLayout.Interleaved"/>), eight rows at a time
    /// through the tile kernel on the bytes as they are, with the row kernel's bits.</summary>
    public static void Compute(DType t, WeightLayout layout, ReadOnlySpan<byte> w, int rows, int cols, MatVecInput x, Span<float> y)
    {
        if (layout == WeightLayout.Rows)
        {
            Compute(t, w, rows, cols, x, y);
            return;
        }
        if (x.Length != cols) throw new ArgumentException($"x: holds {x.Length} values, the weights have {cols} columns");
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, 1);
        if (!InterleavedMatrix.Supports(t)) throw new ArgumentException($"{t.Name()} matrices are not held interleaved on this CPU");
        var p = x.Prepare(t);
        var rowBytes = (int)t.ByteCount(cols);
        fixed (byte* pw = w)
        fixed (float* py = y)
        {
            var job = new InterleavedJob(t, pw, rowBytes, rows, p.Q8K, cols / Q8K.BlockValues, py);
            Run(job, InterleavedJob.ItemsFor(rows), KQuantTiles.Rows * rowBytes);
        }
    }

    /// <summary>Groups of eight interleaved rows against one q8_K vector; the rows after the last whole group (stored
    /// as they are) are one more item, dotted one at a time by the row kernel.</summary>
    private sealed class InterleavedJob(DType t, byte* w, int rowBytes, int rows, byte* q8k, int blocks, float* y) : PoolJob, IPageRange
    {
        private readonly delegate*<byte*, byte*, long, int, int, float*, long, void> _tile = KQuantTiles.Interleaved(t);
        private readonly delegate*<IntegerTier, byte*, byte*, long, int, int, float*, void> _row = KQuantDots.For(t);

        /// <summary>Items of a matrix of <paramref name="rows"/> rows: the whole groups, then the tail if there is one.</summary>
        internal static int ItemsFor(int rows) => (rows + KQuantTiles.Rows - 1) / KQuantTiles.Rows;

        protected override void Run(int start, int end) => Items(start, end);

        public void Items(int start, int end)
        {
            for (var g = start; g < end; g++)
            {
                var r0 = g * KQuantTiles.Rows;
                if (r0 + KQuantTiles.Rows <= rows)
                {
                    _tile(w + (long)r0 * rowBytes, q8k, 0, 1, blocks, y + r0, rows);
                    continue;
                }
                for (var r = r0; r < rows; r++) _row(IntegerTiers.Best, w + (long)r * rowBytes, q8k, 0, 1, blocks, y + r);
            }
        }
    }

    /// <summary><see cref="Compute(DType, ReadOnlySpan{byte}, int, int, MatVecInput, Span{float})"/> over several pages of
    /// one matrix at once: y[page.FirstRow + i] = row i of the page · x. The kernel threads split all the pages' rows
    /// between them in guided chunks, so a matrix spread over many pages (the output projection: tens of pages) costs
    /// one dispatch, not one per page, and no thread waits at a page boundary. Same bits as page by page.</summary>
    public static void Compute(DType t, IReadOnlyList<RowPage> pages, int cols, MatVecInput x, Span<float> y) =>
        Compute(t, WeightLayout.Rows, pages, cols, x, y);

    /// <summary>The same of pages held in <paramref name="layout"/>: interleaved pages split between the kernel threads
    /// in groups of eight rows (a page's rows after its last whole group are one more item).</summary>
    public static void Compute(DType t, WeightLayout layout, IReadOnlyList<RowPage> pages, int cols, MatVecInput x, Span<float> y)
    {
        if (x.Length != cols) throw new ArgumentException($"x: holds {x.Length} values, the weights have {cols} columns");
        var rowBytes = (int)t.ByteCount(cols);
        foreach (var page in pages)
        {
            if (page.FirstRow < 0 || page.FirstRow > y.Length - page.Rows)
                throw new ArgumentException($"page rows [{page.FirstRow}, {page.FirstRow + page.Rows}) fall outside y (length {y.Length})");
            Check.MatVec(t, page.Weights.Span, page.Rows, cols, x.Length, page.Rows, 1);
        }
        var interleaved = layout == WeightLayout.Interleaved;
        if (interleaved && !InterleavedMatrix.Supports(t)) throw new ArgumentException($"{t.Name()} matrices are not held interleaved on this CPU");
        var p = x.Prepare(t);
        var handles = new System.Buffers.MemoryHandle[pages.Count];
        try
        {
            for (var i = 0; i < pages.Count; i++) handles[i] = pages[i].Weights.Pin();
            fixed (float* py = y)
            {
                var jobs = new IPageRange[pages.Count];
                var items = new int[pages.Count];
                for (var i = 0; i < jobs.Length; i++)
                {
                    var w = (byte*)handles[i].Pointer;
                    var first = py + pages[i].FirstRow;
                    var rows = pages[i].Rows;
                    jobs[i] = interleaved ? new InterleavedJob(t, w, rowBytes, rows, p.Q8K, cols / Q8K.BlockValues, first) : new Job(t, w, rowBytes, cols, p, first);
                    items[i] = interleaved ? InterleavedJob.ItemsFor(rows) : rows;
                }
                var all = new PagesJob(jobs, items);
                Run(all, all.Total, interleaved ? KQuantTiles.Rows * rowBytes : rowBytes);
            }
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
    }

    /// <summary>A page's part of a <see cref="PagesJob"/>: its items (rows, or groups of eight interleaved rows).</summary>
    private interface IPageRange
    {
        void Items(int start, int end);
    }

    /// <summary>The items of several pages' jobs as one index range, in page order.</summary>
    private sealed class PagesJob : PoolJob
    {
        private readonly IPageRange[] _pages;
        private readonly int[] _starts; // [pages + 1] first index of each page's items in the range

        internal PagesJob(IPageRange[] pages, int[] rows)
        {
            _pages = pages;
            _starts = new int[pages.Length + 1];
            for (var i = 0; i < pages.Length; i++) _starts[i + 1] = _starts[i] + rows[i];
            Total = _starts[^1];
        }

        protected override void Run(int start, int end)
        {
            var i = Array.BinarySearch(_starts, start);
            if (i < 0) i = ~i - 1;
            for (; start < end; i++)
            {
                var stop = Math.Min(end, _starts[i + 1]);
                if (stop > start) _pages[i].Items(start - _starts[i], stop - _starts[i]);
                start = stop;
            }
        }
    }

    /// <summary>Runs <paramref name="job"/>'s rows on this thread when they are few, else on the kernel threads.</summary>
    private static void Run(Job job, int rows) => Run(job, rows, job.RowBytes);

    /// <summary>Runs rows [0, <paramref name="rows"/>) of <paramref name="job"/> on this thread when they are few, else
    /// on the kernel threads.</summary>
    private static void Run(PoolJob job, int rows, int rowBytes)
    {
        if ((long)rows * rowBytes < ParallelBytes || KernelThreads.Threads == 1 || rows < 2)
        {
            job.Total = rows;
            job.Chunk = rows;
            job.Work();
            return;
        }
        // Guided chunks: each claim takes remaining / (2·threads) rows (never below ~64 KiB of weights), so threads
        // stream long contiguous runs first and a late or preempted thread holds back only a small tail chunk. Fixed
        // chunks of 1/(4·threads) made the caller spin on a descheduled worker's chunk.
        job.Total = rows;
        job.Chunk = Math.Max(1, GuideMinBytes / rowBytes);
        job.Guide = GuideDivisor * KernelThreads.Threads;
        KernelThreads.Run(job);
    }

    /// <summary>ggml pairs every type stored in 256-value blocks (the K-quants, the IQ types but IQ4_NL, the ternary
    /// types) with Q8_K activations; the 32-value block types take q8_0.</summary>
    internal static bool TakesQ8K(DType t) => t.BlockSize() == Q8K.BlockValues;

    /// <param name="input">x and its quantised forms (<see cref="MatVecInput.Prepare"/>).</param>
    private sealed class Job(DType t, byte* w, int rowBytes, int cols, MatVecInput.Prepared input, float* y) : PoolJob, IPageRange
    {
        void IPageRange.Items(int start, int end) => Rows(start, end);

        private readonly float* x = input.X;      // [cols] f32 x (f32/bf16 weights, tails)
        private readonly short* xq = input.Q8;    // [cols] q8_0 values
        private readonly sbyte* xb = input.Q8Bytes; // [cols] q8_0 values as int8
        private readonly float* xd = input.Q8D;   // [cols/32] q8_0 scales
        private readonly float* xs = input.Q8S;   // [cols/32] q8_1 sums
        private readonly byte* xk = input.Q8K;    // Q8_K blocks
        private readonly float* xh = input.F16;   // [cols] x scaled for the f16 kernel
        private readonly float post = input.F16Post;

        internal int RowBytes => rowBytes;

        protected override void Run(int start, int end) => Rows(start, end);

        internal void Rows(int start, int end)
        {
            switch (t)
            {
                case DType.F32:
                    for (var r = start; r < end; r++)
                    {
                        Ahead(r, end);
                        y[r] = RowDot.F32((float*)(w + (long)r * rowBytes), x, cols);
                    }
                    break;
                case DType.F16:
                    var r4 = start;
                    if (RowDot.Avx512)
                        for (; r4 + 4 <= end; r4 += 4)
                        {
                            Ahead(r4 + 3, end, 4); // four rows from PrefetchBytes past the group's last, not rows it is reading
                            F16FourRows.Compute((ushort*)(w + (long)r4 * rowBytes), rowBytes / 2, x, xh, post, cols, y + r4);
                        }
                    for (var r = r4; r < end; r++)
                    {
                        Ahead(r, end);
                        y[r] = RowDot.F16((ushort*)(w + (long)r * rowBytes), x, xh, post, cols);
                    }
                    break;
                case DType.BF16:
                    for (var r = start; r < end; r++)
                    {
                        Ahead(r, end);
                        y[r] = RowDot.BF16((ushort*)(w + (long)r * rowBytes), x, cols);
                    }
                    break;
                case DType.Q8_0:
                    var blocks = cols / DTypes.Q8BlockSize;
                    for (var r = start; r < end; r++)
                    {
                        Ahead(r, end);
                        y[r] = RowDot.Q8(w + (long)r * rowBytes, xq, xd, blocks);
                    }
                    break;
                case DType.Q4_0:
                case DType.Q4_1:
                case DType.Q5_0:
                case DType.Q5_1:
                case DType.IQ4_NL:
                    WithLegacyKernel(start, end);
                    break;
                case DType.Q2_K:
                case DType.Q3_K:
                case DType.Q4_K:
                case DType.Q5_K:
                case DType.Q6_K:
                case DType.IQ4_XS:
                case DType.TQ1_0:
                case DType.TQ2_0:
                case DType.IQ2_XXS:
                case DType.IQ2_XS:
                case DType.IQ2_S:
                case DType.IQ3_XXS:
                case DType.IQ3_S:
                case DType.IQ1_S:
                case DType.IQ1_M:
                    WithKQuantKernel(start, end);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(t), t, null);
            }
        }

        /// <summary>Prefetches the <paramref name="count"/> rows that start <see cref="PrefetchBytes"/> past row
        /// <paramref name="r"/>, within this chunk (the next chunk may be another thread's).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Ahead(int r, int end, int count = 1)
        {
            if (!Sse.IsSupported) return;
            var ahead = r + _prefetchRows;
            if (ahead >= end) return;
            var p = w + (long)ahead * rowBytes;
            var bytes = (long)Math.Min(count, end - ahead) * rowBytes;
            for (var o = 0; o < bytes; o += 64) Sse.Prefetch0(p + o);
        }

        private readonly int _prefetchRows = rowBytes == 0 ? 1 : Math.Max(1, (PrefetchBytes + rowBytes - 1) / rowBytes);

        /// <summary>The integer SIMD row kernel (<see cref="KQuantDots"/>): the same kernel MatMul's batches use, so a
        /// batch row equals this matvec bit for bit.</summary>
        private void WithKQuantKernel(int start, int end)
        {
            var kernel = KQuantDots.For(t);
            var blocks = cols / Q8K.BlockValues;
            float result;
            for (var r = start; r < end; r++)
            {
                Ahead(r, end);
                kernel(IntegerTiers.Best, w + (long)r * rowBytes, xk, 0, 1, blocks, &result);
                y[r] = result;
            }
        }

        /// <summary>The 32-value types' SIMD row kernel (<see cref="LegacyDots"/>), the one MatMul's batches use too.</summary>
        private void WithLegacyKernel(int start, int end)
        {
            var kernel = LegacyDots.For(t);
            var blocks = cols / DTypes.LegacyBlockSize;
            float result;
            for (var r = start; r < end; r++)
            {
                Ahead(r, end);
                kernel(IntegerTiers.Best, w + (long)r * rowBytes, xb, xd, xs, 1, blocks, &result);
                y[r] = result;
            }
        }
    }

    /// <summary>Scalar oracle: dequantises each row with <see cref="DTypeConvert.ToF32"/> and accumulates in double.</summary>
    public static void Reference(DType t, ReadOnlySpan<byte> w, int rows, int cols, ReadOnlySpan<float> x, Span<float> y)
    {
        Check.MatVec(t, w, rows, cols, x.Length, y.Length, 1);
        var rowBytes = (int)t.ByteCount(cols);
        var row = new float[cols];
        for (var r = 0; r < rows; r++)
        {
            DTypeConvert.ToF32(t, w.Slice(r * rowBytes, rowBytes), row);
            double s = 0;
            for (var c = 0; c < cols; c++) s += (double)row[c] * x[c];
            y[r] = (float)s;
        }
    }
}

/// <summary>One page of a matrix's rows for <see cref="MatVec.Compute(DType, IReadOnlyList{RowPage}, int, MatVecInput, Span{float})"/>:
/// its <paramref name="Rows"/> rows' weights, which give outputs [<paramref name="FirstRow"/>, FirstRow + Rows).</summary>
public readonly record struct RowPage(ReadOnlyMemory<byte> Weights, int FirstRow, int Rows);
