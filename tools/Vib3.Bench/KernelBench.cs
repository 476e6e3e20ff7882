using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Kernels.Quant;

namespace Vib3.Bench;

/// <summary>
/// Block-quantised matvec and batched matmul kernels on one weight matrix shape (default 14336×4096, Mixtral's FFN),
/// per dtype: vib3's one-thread matvec next to llama.cpp's one-thread row loop (ggml_vec_dot of its avx512 or avx2 build over
/// the same llama.cpp-quantised rows), each integer tier of vib3's K-quant row dot and of its q8_0 row dot for the
/// legacy 32-value types and IQ4_NL (both on llama.cpp's activation bytes), the multithreaded single-stream matvec,
/// and the n-stream batch (<see cref="MatMul"/>) as aggregate speed-up over n single matvecs, on one thread (CPU
/// time) and on the given threads (wall time). Weights are cycled over enough copies to exceed the last-level cache,
/// so single-stream figures are memory-bound as in decode.
/// GB/s = weight bytes / time; every figure is median (best) of the repeats.
/// </summary>
internal static unsafe class KernelBench
{
    /// <summary>Distinct rows quantised by llama.cpp per dtype; the matrix repeats them (quantising 14336 rows with
    /// the reference quantizer takes seconds per type and changes nothing the kernels see).</summary>
    private const int SampleRows = 64;

    private const int WarmupPasses = 2;
    private static readonly TimeSpan WarmupTime = TimeSpan.FromMilliseconds(300);

    public static int Run(string[] args)
    {
        var dtypes = Args.Str(args, "--dtypes", "q4_k,q6_k,q5_k,q3_k,q2_k,iq4_xs,q8_0,q4_0").Split(',').Select(DTypes.Parse).ToList();
        var rows = Args.Int(args, "--rows", 14336);
        var cols = Args.Int(args, "--cols", 4096);
        var streams = Args.Int(args, "--streams", 32);
        var threads = Args.Int(args, "--threads", 2);
        var repeat = Args.Int(args, "--repeat", 5);
        var totalMib = Args.Int(args, "--mib", 512);

        Console.WriteLine($"{rows}x{cols} weights, {streams} streams, {threads} threads, {repeat} repeats; vib3 integer tier {IntegerTiers.Best}, llama.cpp build {GgmlKernels.Build}; " +
                          "GB/s of weights, median (best); 1T columns in thread CPU time, the others in wall time");
        var tierNames = string.Join("/", Enum.GetNames<IntegerTier>()).ToLowerInvariant();
        Console.WriteLine($"dtype    vib3 1T         llama.cpp 1T    {$"vib3 tiers 1T ({tierNames})",-43} 1T {streams}-stream  vib3 {threads}T 1-stream   {streams}-stream aggregate");
        foreach (var t in dtypes)
            Console.WriteLine(Measure(t, rows, cols, streams, threads, repeat, totalMib));
        return 0;
    }

    private static string Measure(DType t, int rows, int cols, int streams, int threads, int repeat, int totalMib)
    {
        var name = t.Name();
        var (type, activationType, activation) = GgmlKernels.Types(name);
        var rng = new Random(1);
        var sample = new float[SampleRows * cols];
        for (var i = 0; i < sample.Length; i++) sample[i] = (float)(rng.NextDouble() * 2 - 1);
        var sampleBytes = GgmlKernels.Quantize(type, sample, SampleRows);
        var rowBytes = t.ByteCount(cols);
        var matrixBytes = rowBytes * rows;
        var copies = (int)Math.Max(1, ((long)totalMib << 20) / matrixBytes);
        var matrices = new byte[copies][];
        for (var c = 0; c < copies; c++)
        {
            matrices[c] = GC.AllocateUninitializedArray<byte>((int)matrixBytes, pinned: true);
            for (var r = 0; r < rows; r++) Array.Copy(sampleBytes, r % SampleRows * rowBytes, matrices[c], r * rowBytes, rowBytes);
        }
        var x = new float[streams * cols];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new float[streams * rows];

        // One-thread figures count the thread's CPU time: the machine is shared, and wall time would count the time
        // the scheduler gave to others. Multithreaded figures are wall time.
        double Seconds(Action<byte[]> once) => Timed(once, threadTime: KernelThreads.Threads == 1);

        double Timed(Action<byte[]> once, bool threadTime)
        {
            // Warm-up: page faults, worker threads, and enough calls for the JIT's tier-1 code (tiered compilation
            // starts every method unoptimised).
            var clock = Stopwatch.StartNew();
            for (var pass = 0; pass < WarmupPasses || clock.Elapsed < WarmupTime; pass++)
                foreach (var m in matrices) once(m);
            clock.Restart();
            var cpu = ThreadCpuSeconds();
            foreach (var m in matrices) once(m);
            return (threadTime ? ThreadCpuSeconds() - cpu : clock.Elapsed.TotalSeconds) / copies;
        }

        KernelThreads.Threads = 1;
        var single1 = Repeat(repeat, () => Seconds(m => MatMul.Compute(t, m, rows, cols, x.AsSpan(0, cols), 1, y.AsSpan(0, rows))));
        var xq = GgmlKernels.QuantizeActivations(activation, activationType, x[..cols]);
        var vecDot = GgmlKernels.VecDot(name, activation);
        var llama1 = Repeat(repeat, () => Seconds(m =>
        {
            fixed (byte* pm = m)
            fixed (byte* px = xq)
            fixed (float* py = y)
                for (var r = 0; r < rows; r++) vecDot(cols, py + r, 0, pm + r * rowBytes, 0, px, 0, 1);
        }));
        var legacyX = LegacyDots.Has(t) ? LegacyActivations.From(xq, cols, LegacyDots.NeedsSums(t)) : null;
        var tiers = KQuantDots.Has(t) || legacyX != null
            ? string.Join("  ", Enum.GetValues<IntegerTier>().Select(tier => IntegerTiers.IsSupported(tier) ? Figure(matrixBytes, Repeat(repeat, () => Seconds(m =>
            {
                fixed (byte* pm = m)
                fixed (byte* px = xq) // llama.cpp's q8_K row: the same bytes vib3's quantiser writes
                fixed (sbyte* pq = legacyX?.Quants) // or its q8_0 / q8_1 row, as vib3's legacy kernels lay it out
                fixed (float* pd = legacyX?.Scales)
                fixed (float* ps = legacyX?.Sums)
                {
                    if (legacyX != null)
                        for (var r = 0; r < rows; r++) y[r] = LegacyDots.Dot(t, tier, pm + r * rowBytes, pq, pd, ps, cols / 32);
                    else
                        for (var r = 0; r < rows; r++) y[r] = KQuantDots.Dot(t, tier, pm + r * rowBytes, px, cols / 256);
                }
            })), compact: true) : "-"))
            : "-";
        // The batch on one thread, in CPU time like the other 1T columns: what sharing a weight block across the
        // streams buys, free of the memory bandwidth and of other processes' load, which the wall-time aggregate
        // below (against a memory-bound single stream) is not.
        var batch1 = Repeat(repeat, () => Seconds(m => MatMul.Compute(t, m, rows, cols, x, streams, y)));
        var aggregate1 = Median(single1) * streams / Median(batch1);
        KernelThreads.Threads = threads;
        var singleT = Repeat(repeat, () => Seconds(m => MatMul.Compute(t, m, rows, cols, x.AsSpan(0, cols), 1, y.AsSpan(0, rows))));
        var batch = Repeat(repeat, () => Seconds(m => MatMul.Compute(t, m, rows, cols, x, streams, y)));
        var aggregate = Median(singleT) * streams / Median(batch);
        var bestAggregate = singleT.Min() * streams / batch.Min();
        return string.Create(CultureInfo.InvariantCulture,
            $"{name,-8} {Figure(matrixBytes, single1),-15} {Figure(matrixBytes, llama1),-15} {tiers,-43} {$"{aggregate1:0.00}x",-13} {Figure(matrixBytes, singleT),-17} {aggregate:0.00}x ({bestAggregate:0.00}x)");
    }

    /// <summary>llama.cpp's q8_0 (f16 d · 32 int8) or q8_1 (f16 d · f16 s · 32 int8) row split into the arrays vib3's
    /// legacy kernels read (<see cref="LegacyDots"/>), so each tier runs on llama.cpp's own activation bytes.</summary>
    private sealed record LegacyActivations(sbyte[] Quants, float[] Scales, float[] Sums)
    {
        public static LegacyActivations From(byte[] q8, int cols, bool withSums)
        {
            var header = withSums ? 4 : 2;
            var blocks = cols / 32;
            var a = new LegacyActivations(new sbyte[cols], new float[blocks], new float[blocks]);
            for (var b = 0; b < blocks; b++)
            {
                var block = q8.AsSpan(b * (header + 32));
                a.Scales[b] = (float)BitConverter.ToHalf(block);
                if (withSums) a.Sums[b] = (float)BitConverter.ToHalf(block[2..]);
                for (var j = 0; j < 32; j++) a.Quants[b * 32 + j] = (sbyte)block[header + j];
            }
            return a;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private static double ThreadCpuSeconds()
    {
        if (ClockGetTime(ThreadCpuClock, out var t) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t.Seconds + t.Nanoseconds / 1e9;
    }

    private static List<double> Repeat(int n, Func<double> once) => Enumerable.Range(0, n).Select(_ => once()).ToList();

    private static double Median(List<double> xs) => StoreBench.Median(xs);

    /// <summary>GB/s at the median time and at the best time.</summary>
    private static string Figure(long bytes, List<double> seconds, bool compact = false) => compact
        ? Rate(bytes / Median(seconds))
        : $"{Rate(bytes / Median(seconds))} ({Rate(bytes / seconds.Min())})";

    /// <summary>GB/s to one decimal, or to three below 1 GB/s (a scalar kernel's figures).</summary>
    private static string Rate(double bytesPerSecond) =>
        (bytesPerSecond / 1e9).ToString(bytesPerSecond < 1e9 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
}
