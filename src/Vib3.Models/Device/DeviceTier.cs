using Vib3.Core;
using Vib3.Kernels.Gpu;

namespace Vib3.Models.Device;

/// <summary>The VRAM tier: the engine's accelerator and the budget of device memory every open model's resident
/// weights share (--vram-budget), as the page pool shares the RAM budget.</summary>
public sealed class DeviceTier : IDisposable
{
    /// <summary>Device memory left out of the default budget: the CUDA context, kernels, activations and caches.</summary>
    public const long DefaultHeadroomBytes = 1L << 30;

    private readonly bool _ownsDevice;
    private readonly List<DeviceExperts> _caches = []; // the open models' expert caches, which give memory back to dense matrices
    private long _used;

    private DeviceTier(GpuDevice device, long budgetBytes, bool ownsDevice)
    {
        Device = device;
        BudgetBytes = budgetBytes;
        _ownsDevice = ownsDevice;
    }

    public GpuDevice Device { get; }

    public long BudgetBytes { get; }

    /// <summary>Bytes resident models hold now.</summary>
    public long UsedBytes => Interlocked.Read(ref _used);

    /// <summary>Opens the accelerator <paramref name="choice"/> asks for with a budget of <paramref name="budgetBytes"/>
    /// (null: the device's memory less <see cref="DefaultHeadroomBytes"/>, at least half of it). Null when the CPU runs
    /// everything; <paramref name="notice"/> then says why (unless the CPU was asked for). A budget larger than the
    /// device is refused (22023).</summary>
    public static DeviceTier? Open(AcceleratorChoice choice, long? budgetBytes, out string? notice)
    {
        var device = GpuDevice.Open(choice, out notice);
        if (device is null) return null;
        try
        {
            return Over(device, budgetBytes, ownsDevice: true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>A tier over a device already open (several budgets in turn over one device and its compiled kernels:
    /// the device check); the device is disposed with the tier only when <paramref name="ownsDevice"/>.</summary>
    public static DeviceTier Over(GpuDevice device, long? budgetBytes, bool ownsDevice)
    {
        var memory = device.MemoryBytes;
        if (budgetBytes > memory)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"--vram-budget {ByteSize.Format(budgetBytes.Value)} exceeds the {ByteSize.Format(memory)} of {device.Name}");
        return new DeviceTier(device, budgetBytes ?? Math.Max(memory / 2, memory - DefaultHeadroomBytes), ownsDevice);
    }

    /// <summary>Takes <paramref name="bytes"/> of the budget, or returns false (and takes nothing) when they do not fit.</summary>
    public bool TryReserve(long bytes)
    {
        while (true)
        {
            var used = Interlocked.Read(ref _used);
            if (used + bytes > BudgetBytes) return false;
            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used) return true;
        }
    }

    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);

    /// <summary><see cref="TryReserve"/> for a dense matrix, which comes before any model's experts: when the budget is
    /// short, the open models' expert caches give chunks back (<see cref="DeviceExperts.Reclaim"/>) until it fits or
    /// they have nothing left to give.</summary>
    public bool TryReserveDense(long bytes)
    {
        if (TryReserve(bytes)) return true;
        DeviceExperts[] caches;
        lock (_caches) caches = [.. _caches];
        foreach (var cache in caches)
        {
            cache.Reclaim(bytes - (BudgetBytes - UsedBytes));
            if (TryReserve(bytes)) return true;
        }
        return false;
    }

    internal void Register(DeviceExperts cache)
    {
        lock (_caches) _caches.Add(cache);
    }

    internal void Unregister(DeviceExperts cache)
    {
        lock (_caches) _caches.Remove(cache);
    }

    public void Dispose()
    {
        if (_ownsDevice) Device.Dispose();
    }
}
