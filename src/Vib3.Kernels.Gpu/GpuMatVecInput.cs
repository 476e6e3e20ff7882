using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Gpu;

/// <summary>The device twin of <see cref="MatVecInput"/>: an activation vector in device memory with the quantised
/// forms the block kernels take, each made once on first use by a kernel (q8_0 for the 32-value types, Q8_K for the
/// 256-value ones) and dropped when the next vector is set. One stream of launches at a time.</summary>
public sealed class GpuMatVecInput : IDisposable
{
    private readonly GpuDevice _device;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _x;     // [capacity]
    private readonly MemoryBuffer1D<sbyte, Stride1D.Dense> _q8;    // q8_0 quants, [capacity]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _q8d;   // q8_0 block scales, [capacity / 32]
    private readonly MemoryBuffer1D<sbyte, Stride1D.Dense> _q8k;   // Q8_K quants, [capacity]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _q8kd;  // Q8_K block scales, [capacity / 256]
    private readonly MemoryBuffer1D<short, Stride1D.Dense> _q8ks;  // Q8_K sums of runs of 16, [capacity / 16]
    private bool _q8Made, _q8kMade;

    public GpuMatVecInput(GpuDevice device, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _device = device;
        var a = device.Accelerator;
        _x = a.Allocate1D<float>(Math.Max(1, capacity));
        _q8 = a.Allocate1D<sbyte>(Math.Max(1, capacity));
        _q8d = a.Allocate1D<float>(Math.Max(1, capacity / DTypes.Q8BlockSize));
        _q8k = a.Allocate1D<sbyte>(Math.Max(1, capacity));
        _q8kd = a.Allocate1D<float>(Math.Max(1, capacity / Q8K.BlockValues));
        _q8ks = a.Allocate1D<short>(Math.Max(1, capacity / Q8K.SumRun));
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Values in the vector now held.</summary>
    public int Length { get; private set; }

    /// <summary>The vector now held, [Length].</summary>
    public ArrayView<float> Values => ((ArrayView<float>)_x.View).SubView(0, Length);

    /// <summary>Copies <paramref name="x"/> from host memory in as the vector the next matvecs multiply.</summary>
    public void Set(ReadOnlySpan<float> x)
    {
        Take(x.Length);
        ((ArrayView<float>)_x.View).SubView(0, x.Length).CopyFromCPU(x);
    }

    /// <summary>Copies <paramref name="x"/>, already on the device, in as the vector the next matvecs multiply.</summary>
    public void Set(ArrayView<float> x)
    {
        Take(checked((int)x.Length));
        ((ArrayView<float>)_x.View).SubView(0, x.Length).CopyFrom(x);
    }

    private void Take(int length)
    {
        if (length > Capacity)
            throw new ArgumentException($"x: {length} values, more than the {Capacity} this input was made for");
        Length = length;
        _q8Made = _q8kMade = false;
    }

    /// <summary>The q8_0 form: quants [Length] and block scales [Length / 32].</summary>
    internal (ArrayView<sbyte> Quants, ArrayView<float> Scales) Q8Form()
    {
        var blocks = Length / DTypes.Q8BlockSize;
        if (!_q8Made)
        {
            GpuQuantizeQ8.Run(_device, Values, _q8.View, _q8d.View, blocks);
            _q8Made = true;
        }
        return (((ArrayView<sbyte>)_q8.View).SubView(0, Length), ((ArrayView<float>)_q8d.View).SubView(0, Math.Max(1, blocks)));
    }

    /// <summary>The Q8_K form: quants [Length], block scales [Length / 256], run sums [Length / 16].</summary>
    internal (ArrayView<sbyte> Quants, ArrayView<float> Scales, ArrayView<short> Sums) Q8KForm()
    {
        var blocks = Length / Q8K.BlockValues;
        if (!_q8kMade)
        {
            GpuQuantizeQ8K.Run(_device, Values, _q8k.View, _q8kd.View, _q8ks.View, blocks);
            _q8kMade = true;
        }
        return (((ArrayView<sbyte>)_q8k.View).SubView(0, Length), ((ArrayView<float>)_q8kd.View).SubView(0, Math.Max(1, blocks)),
            ((ArrayView<short>)_q8ks.View).SubView(0, Math.Max(1, Length / Q8K.SumRun)));
    }

    public void Dispose()
    {
        _x.Dispose();
        _q8.Dispose();
        _q8d.Dispose();
        _q8k.Dispose();
        _q8kd.Dispose();
        _q8ks.Dispose();
    }
}
