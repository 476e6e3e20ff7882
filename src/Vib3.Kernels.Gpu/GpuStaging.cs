using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary>Several small host arrays sent to the device in one copy: each copy from the host is a synchronous round
/// trip of its own (tens of microseconds on a GPU whatever its size), so a layer's queries, the positions its rows see
/// and the cache rows they need go up together and the kernels read them where they landed. Spans are placed at 16-byte
/// boundaries, so any element type can be read back at its offset. One user at a time.</summary>
public sealed class GpuStaging(GpuDevice device) : IDisposable
{
    private const int Alignment = 16;
    private byte[] _host = new byte[4096];
    private MemoryBuffer1D<byte, Stride1D.Dense>? _device;
    private int _length;

    /// <summary>Starts a new batch of spans.</summary>
    public void Clear() => _length = 0;

    /// <summary>Adds <paramref name="values"/> to the batch and returns their byte offset in it.</summary>
    public int Add<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var at = (_length + Alignment - 1) / Alignment * Alignment;
        if (at + bytes.Length > _host.Length) Array.Resize(ref _host, Math.Max(at + bytes.Length, 2 * _host.Length));
        bytes.CopyTo(_host.AsSpan(at));
        _length = at + bytes.Length;
        return at;
    }

    /// <summary>Copies the batch to the device (one copy).</summary>
    public void Upload()
    {
        if (_length == 0) return;
        if (_device is null || _device.Length < _length)
        {
            _device?.Dispose();
            _device = device.Accelerator.Allocate1D<byte>(_host.Length);
        }
        ((ArrayView<byte>)_device.View).SubView(0, _length).CopyFromCPU(_host.AsSpan(0, _length));
    }

    /// <summary>The <paramref name="count"/> values of type T the span added at <paramref name="offset"/> holds, on the
    /// device (after <see cref="Upload"/>).</summary>
    public ArrayView<T> View<T>(int offset, long count) where T : unmanaged =>
        ((ArrayView<byte>)_device!.View).SubView(offset, count * Interop.SizeOf<T>()).Cast<T>();

    public void Dispose() => _device?.Dispose();
}
