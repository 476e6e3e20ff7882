using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Vib3.Kernels.Gpu;

/// <summary>An accelerator the GPU kernels run on: a CUDA device, or ILGPU's CPU accelerator emulating one (32-lane
/// warps, groups of up to 1024), which runs the same kernels through the same ILGPU front end. Kernels are compiled on
/// first use and kept. Open never throws for a missing or failing device: it returns null and says why, and the
/// caller runs the CPU kernels.</summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;
    private readonly ConcurrentDictionary<string, Delegate> _kernels = new(StringComparer.Ordinal);

    private GpuDevice(Context context, Accelerator accelerator, AcceleratorChoice kind)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
    }

    public Accelerator Accelerator { get; }

    /// <summary><see cref="AcceleratorChoice.Cuda"/> or <see cref="AcceleratorChoice.IlgpuCpu"/>.</summary>
    public AcceleratorChoice Kind { get; }

    public string Name => Accelerator.Name;

    /// <summary>Threads per group for a kernel that takes <paramref name="gpu"/> on a GPU. ILGPU's CPU accelerator runs
    /// each thread of a group as a thread of its own, all alive at once for the group's barriers, so there a group is at
    /// most two warps: still several warps, the code paths a GPU takes, at a fraction of the context switches.</summary>
    public int GroupThreads(int gpu) => Kind == AcceleratorChoice.IlgpuCpu ? Math.Min(gpu, 2 * 32) : gpu;

    /// <summary>The device's memory in bytes; for ILGPU's CPU accelerator, whose "device memory" is the process's,
    /// the memory the runtime may use (ILGPU reports no limit for it).</summary>
    public long MemoryBytes => Kind == AcceleratorChoice.IlgpuCpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : Accelerator.MemorySize;

    /// <summary>Opens what <paramref name="choice"/> asks for. Null means the CPU runs every operator; then
    /// <paramref name="notice"/> says why, unless the CPU was what was asked (<see cref="AcceleratorChoice.None"/>).</summary>
    public static GpuDevice? Open(AcceleratorChoice choice, out string? notice)
    {
        notice = null;
        if (choice == AcceleratorChoice.None) return null;
        Context? context = null;
        try
        {
            if (choice == AcceleratorChoice.IlgpuCpu)
            {
                context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia).EnableAlgorithms());
                return SelfTested(new GpuDevice(context, context.CreateCPUAccelerator(0), choice));
            }
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
            {
                notice = $"accelerator {choice.Name()}: no CUDA device found; the CPU runs every operator";
                context.Dispose();
                return null;
            }
            var accelerator = devices[0].CreateAccelerator(context);
            if (accelerator.WarpSize != 32) // the kernels shuffle across 32 lanes
            {
                notice = $"accelerator {choice.Name()}: {accelerator.Name} has {accelerator.WarpSize}-lane warps, the kernels need 32; the CPU runs every operator";
                accelerator.Dispose();
                context.Dispose();
                return null;
            }
            return SelfTested(new GpuDevice(context, accelerator, AcceleratorChoice.Cuda));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            context?.Dispose();
            var reason = e.Message.Split('\n', 2)[0].Trim();
            notice = $"accelerator {choice.Name()}: the device did not start ({e.GetType().Name}: {reason}); the CPU runs every operator";
            return null;
        }
    }

    /// <summary>Compiles and runs one small kernel and checks its result, so a device that starts but cannot run the
    /// kernels (a driver or compiler fault) is found here, as a notice, rather than in the middle of a generation.</summary>
    private static GpuDevice SelfTested(GpuDevice device)
    {
        try
        {
            var x = Enumerable.Range(0, 40).Select(i => (float)i).ToArray();
            using var a = device.Accelerator.Allocate1D(x);
            using var acc = device.Accelerator.Allocate1D(x);
            GpuVectorOps.AddScaled(device, a.View, 2f, acc.View, x.Length);
            var result = acc.GetAsArray1D();
            for (var i = 0; i < x.Length; i++)
                if (result[i] != 3f * i)
                    throw new InvalidOperationException($"the self-test kernel computed {result[i]} for {3f * i}");
            return device;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>The kernel <paramref name="key"/> names, loaded by <paramref name="load"/> the first time.</summary>
    internal TKernel Kernel<TKernel>(string key, Func<Accelerator, TKernel> load) where TKernel : Delegate =>
        (TKernel)_kernels.GetOrAdd(key, _ => load(Accelerator));

    /// <summary>Makes the device's context current on the calling thread. A CUDA context is current per thread, and
    /// ILGPU does not make it current itself for copies and frees (ILGPU issue #705: "invalid device context"); the
    /// forward pass resumes on whichever pool thread a page read completed on, so every entry into device work from the
    /// engine calls this first. A reference comparison when the thread is bound already.</summary>
    public void BindToThread()
    {
        if (!ReferenceEquals(Accelerator.Current, Accelerator)) Accelerator.Bind();
    }

    /// <summary>Waits for every launched kernel to finish.</summary>
    public void Synchronize() => Accelerator.Synchronize();

    public void Dispose()
    {
        BindToThread(); // the kernels' modules are unloaded in the context
        Accelerator.Dispose();
        _context.Dispose();
    }
}
