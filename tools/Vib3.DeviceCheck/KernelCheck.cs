using System.Diagnostics;
using System.Text.Json.Nodes;
using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Kernels.Gpu;

namespace Vib3.DeviceCheck;

/// <summary>The device matvec of every type against the CPU's on the same bytes (one vector and a batch of eight), and
/// its speed on a Mixtral-sized matrix next to the device's copy bandwidth.</summary>
internal static class KernelCheck
{
    /// <summary>Device-to-device copy bandwidth (bytes read + written per second), best of five copies of 1 GiB (64 MiB
    /// on ILGPU's CPU accelerator).</summary>
    public static double CopyBandwidth(GpuDevice device, Report report)
    {
        var bytes = device.Accelerator.AcceleratorType == AcceleratorType.CPU ? 64L << 20 : 1L << 30;
        using var a = device.Accelerator.Allocate1D<byte>(bytes);
        using var b = device.Accelerator.Allocate1D<byte>(bytes);
        a.MemSetToZero();
        device.Accelerator.Synchronize();
        var best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var start = Stopwatch.GetTimestamp();
            b.View.CopyFrom(a.View);
            device.Accelerator.Synchronize();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        var bandwidth = 2.0 * bytes / best;
        report.Line($"device copy bandwidth: {bandwidth / 1e9:0.0} GB/s (read + write, best of 5 copies of {ByteSize.Format(bytes)})");
        report.Set("copy_bandwidth_gbps", bandwidth / 1e9);
        return bandwidth;
    }

    public static void Run(GpuDevice device, Report report, bool quick, double bandwidth)
    {
        report.Line("kernels: device matvec vs the CPU's, max |Δ| / max |y| (limit 1e-4)");
        var rng = new Random(7);
        foreach (var t in DTypes.All.Where(GpuMatVec.Supports))
        foreach (var (rows, cols, vectors) in new[] { (37, 512, 1), (1027, 2048, 1), (259, 1024, 8) })
        {
            var what = $"{t.Name()} {rows}x{cols} x{vectors}";
            try
            {
                var (bytes, x) = (Weights(rng, t, rows, cols), Floats(rng, cols * vectors));
                var expected = new float[rows * vectors];
                if (vectors == 1) MatVec.Compute(t, bytes, rows, cols, x, expected);
                else MatMul.Compute(t, bytes, rows, cols, x, vectors, expected);
                var actual = DeviceProduct(device, t, bytes, rows, cols, x, vectors);
                var scale = expected.Max(MathF.Abs);
                var worst = expected.Zip(actual, (e, a) => MathF.Abs(e - a)).Max() / scale;
                var ok = worst <= 1e-4;
                report.Line($"  {what}: {worst:0.0e0} {(ok ? "ok" : "FAIL")}");
                report.Add("kernels", new JsonObject { ["case"] = what, ["max_rel_diff"] = worst }, ok);
            }
            catch (Exception e) { report.Fail("kernels", what, e); }
        }
        if (quick) return;

        // Speed: a Mixtral expert's gate rows (14336 × 4096) one vector at a time, as decode runs them.
        report.Line("kernels: decode matvec speed, 14336 x 4096, one vector (the bound: its bytes at the copy bandwidth's read half)");
        foreach (var t in DTypes.All.Where(GpuMatVec.Supports))
        {
            var what = $"{t.Name()} 14336x4096";
            try
            {
                var (rows, cols) = (14336, 4096);
                var bytes = Weights(rng, t, rows, cols);
                using var w = device.Accelerator.Allocate1D<byte>(bytes.Length);
                w.View.CopyFromCPU(bytes);
                using var input = new GpuMatVecInput(device, cols);
                input.Set(Floats(rng, cols));
                using var y = device.Accelerator.Allocate1D<float>(rows);
                GpuMatVec.Compute(device, t, w.View, rows, cols, input, y.View);
                device.Accelerator.Synchronize();
                const int Repeats = 50;
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < Repeats; i++) GpuMatVec.Compute(device, t, w.View, rows, cols, input, y.View);
                device.Accelerator.Synchronize();
                var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds / Repeats;
                var achieved = bytes.Length / seconds;
                var share = achieved / (bandwidth / 2);
                report.Line($"  {what}: {seconds * 1e6:0.0} µs, {achieved / 1e9:0.0} GB/s = {100 * share:0.0}% of the bound");
                report.Add("kernel_speed", new JsonObject { ["case"] = what, ["microseconds"] = seconds * 1e6, ["gbps"] = achieved / 1e9, ["share_of_bound"] = share });
            }
            catch (Exception e) { report.Fail("kernel_speed", what, e); }
        }
    }

    private static float[] DeviceProduct(GpuDevice device, DType t, byte[] bytes, int rows, int cols, float[] x, int vectors)
    {
        using var w = device.Accelerator.Allocate1D<byte>(bytes.Length);
        w.View.CopyFromCPU(bytes);
        using var input = new GpuMatVecInput(device, cols, vectors);
        input.Set(x, vectors);
        using var y = device.Accelerator.Allocate1D<float>((long)rows * vectors);
        GpuMatVec.Compute(device, t, w.View, rows, cols, input, y.View);
        var result = new float[rows * vectors];
        y.View.CopyToCPU(result);
        return result;
    }

    /// <summary>Random weights in <paramref name="t"/>, quantised by vib3's own writers.</summary>
    private static byte[] Weights(Random rng, DType t, int rows, int cols)
    {
        var bytes = new byte[t.ByteCount((long)rows * cols)];
        DTypeConvert.FromF32(t, Floats(rng, rows * cols), bytes);
        return bytes;
    }

    private static float[] Floats(Random rng, int n)
    {
        var f = new float[n];
        for (var i = 0; i < n; i++) f[i] = (float)(rng.NextDouble() * 2 - 1);
        return f;
    }
}
