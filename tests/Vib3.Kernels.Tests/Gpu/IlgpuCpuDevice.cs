using ILGPU;
using ILGPU.Runtime;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>The GPU kernels' device in tests: ILGPU's CPU accelerator emulating 32-lane warps, opened once for the
/// collection (each kernel compiles once per device).</summary>
public sealed class IlgpuCpuDevice : IDisposable
{
    public IlgpuCpuDevice()
    {
        Device = GpuDevice.Open(AcceleratorChoice.IlgpuCpu, out var notice)
                 ?? throw new InvalidOperationException($"ILGPU's CPU accelerator did not open: {notice}");
    }

    public GpuDevice Device { get; }

    public MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values) where T : unmanaged
    {
        var buffer = Device.Accelerator.Allocate1D<T>(Math.Max(1, values.Length));
        if (values.Length > 0) ((ArrayView<T>)buffer.View).SubView(0, values.Length).CopyFromCPU(values);
        return buffer;
    }

    public static T[] Download<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer, int count) where T : unmanaged
    {
        var values = new T[count];
        if (count > 0) ((ArrayView<T>)buffer.View).SubView(0, count).CopyToCPU(values);
        return values;
    }

    public void Dispose() => Device.Dispose();
}

[CollectionDefinition(Name)]
public sealed class IlgpuCpuCollection : ICollectionFixture<IlgpuCpuDevice>
{
    public const string Name = "ILGPU CPU accelerator";
}
