using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;
using Vib3.Models.Weights;

namespace Vib3.Models.Device;

/// <summary>A dense matrix resident in device memory: its pages' stored bytes back to back, [Rows, Cols] in its stored
/// type. Holds its share of the VRAM budget until disposed.</summary>
public sealed class DeviceMatrix : IDisposable
{
    private readonly DeviceTier _tier;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> _bytes;

    private DeviceMatrix(DeviceTier tier, DenseWeight weight, MemoryBuffer1D<byte, Stride1D.Dense> bytes)
    {
        _tier = tier;
        _bytes = bytes;
        Type = weight.Type;
        Rows = weight.Rows;
        Cols = weight.Cols;
        Pages = weight.PageCount;
    }

    public DType Type { get; }

    public int Rows { get; }

    public int Cols { get; }

    public long SizeBytes => _bytes.Length;

    /// <summary>Store pages it was read from.</summary>
    public int Pages { get; }

    /// <summary>[Rows, Cols] in <see cref="Type"/>.</summary>
    public ArrayView<byte> Bytes => _bytes.View;

    /// <summary>Uploads <paramref name="weight"/> (its pages read through the store, their stored bytes, each copied to its
    /// place in device memory as it arrives: no host copy of the whole matrix, which may pass 2 GiB) when the budget has
    /// room; null, taking nothing, when it has not.</summary>
    public static async ValueTask<DeviceMatrix?> UploadAsync(ModelWeights weights, DenseWeight weight, DeviceTier tier, CancellationToken ct)
    {
        var size = weight.Type.ByteCount((long)weight.Rows * weight.Cols);
        if (!tier.TryReserveDense(size)) return null;
        MemoryBuffer1D<byte, Stride1D.Dense>? buffer = null;
        try
        {
            tier.Device.BindToThread();
            buffer = tier.Device.Accelerator.Allocate1D<byte>(size);
            var view = (ArrayView<byte>)buffer.View;
            var at = 0L;
            await weights.StreamAsync(weight, (index, page) =>
            {
                var stored = weights.StoredBytes(weight.FirstPage + index, page);
                if (at + stored.Length > size) throw Mismatch(weight, at + stored.Length, size);
                tier.Device.BindToThread(); // each page's consumer runs where its read completed
                view.SubView(at, stored.Length).CopyFromCPU(stored);
                at += stored.Length;
            }, ct).ConfigureAwait(false);
            if (at != size) throw Mismatch(weight, at, size);
            return new DeviceMatrix(tier, weight, buffer);
        }
        catch
        {
            tier.Device.BindToThread();
            buffer?.Dispose();
            tier.Release(size);
            throw;
        }
    }

    private static Vib3Exception Mismatch(DenseWeight weight, long pages, long shape) =>
        new(SqlState.DataCorrupted, $"tensor '{weight.Entry.Name}': its pages hold {pages} bytes, its shape needs {shape}");

    public void Dispose()
    {
        _tier.Device.BindToThread();
        _bytes.Dispose();
        _tier.Release(SizeBytes);
    }
}
