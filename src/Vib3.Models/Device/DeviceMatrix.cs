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

    /// <summary>Uploads <paramref name="weight"/> (its pages read through the store, their stored bytes) when the budget
    /// has room; null, taking nothing, when it has not.</summary>
    public static async ValueTask<DeviceMatrix?> UploadAsync(ModelWeights weights, DenseWeight weight, DeviceTier tier, CancellationToken ct)
    {
        var size = weight.Type.ByteCount((long)weight.Rows * weight.Cols);
        if (!tier.TryReserve(size)) return null;
        MemoryBuffer1D<byte, Stride1D.Dense>? buffer = null;
        try
        {
            var host = GC.AllocateUninitializedArray<byte>(checked((int)size));
            var at = 0;
            await weights.StreamAsync(weight, (index, page) =>
            {
                var stored = weights.StoredBytes(weight.FirstPage + index, page);
                stored.CopyTo(host.AsSpan(at));
                at += stored.Length;
            }, ct).ConfigureAwait(false);
            if (at != size)
                throw new Vib3Exception(SqlState.DataCorrupted, $"tensor '{weight.Entry.Name}': its pages hold {at} bytes, its shape needs {size}");
            buffer = tier.Device.Accelerator.Allocate1D<byte>(size);
            ((ArrayView<byte>)buffer.View).CopyFromCPU(host);
            return new DeviceMatrix(tier, weight, buffer);
        }
        catch
        {
            buffer?.Dispose();
            tier.Release(size);
            throw;
        }
    }

    public void Dispose()
    {
        _bytes.Dispose();
        _tier.Release(SizeBytes);
    }
}
