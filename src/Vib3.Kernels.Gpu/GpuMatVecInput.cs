using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Gpu;

/// <summary>The device twin of <see cref="MatVecInput"/>: one or several activation vectors (a step's rows) in device
/// memory with the quantised forms the block kernels take, each made once on first use by a kernel (q8_0 for the
/// 32-value types, Q8_K for the 256-value ones) and dropped when the next vectors are set. One stream of launches at a
/// time.</summary>
public sealed class GpuMatVecInput : IDisposable
{
    private readonly GpuDevice _device;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _x;     // [vectors, capacity]
    private readonly MemoryBuffer1D<sbyte, Stride1D.Dense> _q8;    // q8_0 quants, [vectors, capacity]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _q8d;   // q8_0 block scales, [vectors, capacity / 32]
    private readonly MemoryBuffer1D<sbyte, Stride1D.Dense> _q8k;   // Q8_K quants, [vectors, capacity]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _q8kd;  // Q8_K block scales, [vectors, capacity / 256]
    private readonly MemoryBuffer1D<short, Stride1D.Dense> _q8ks;  // Q8_K sums of runs of 16, [vectors, capacity / 16]
    private bool _q8Made, _q8kMade;

    /// <param name="capacity">The longest vector it will hold.</param>
    /// <param name="vectors">The most vectors it will hold at once.</param>
    public GpuMatVecInput(GpuDevice device, int capacity, int vectors = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vectors);
        _device = device;
        var a = device.Accelerator;
        var values = Math.Max(1, (long)capacity * vectors);
        _x = a.Allocate1D<float>(values);
        _q8 = a.Allocate1D<sbyte>(values);
        _q8d = a.Allocate1D<float>(Math.Max(1, values / DTypes.Q8BlockSize));
        _q8k = a.Allocate1D<sbyte>(values);
        _q8kd = a.Allocate1D<float>(Math.Max(1, values / Q8K.BlockValues));
        _q8ks = a.Allocate1D<short>(Math.Max(1, values / Q8K.SumRun));
        Capacity = capacity;
        MaxVectors = vectors;
    }

    public int Capacity { get; }

    public int MaxVectors { get; }

    /// <summary>Values in each vector now held.</summary>
    public int Length { get; private set; }

    /// <summary>Vectors now held.</summary>
    public int Count { get; private set; }

    /// <summary>The vectors now held, [Count, Length].</summary>
    public ArrayView<float> Values => ((ArrayView<float>)_x.View).SubView(0, (long)Count * Length);

    /// <summary>Copies <paramref name="x"/> [vectors, x.Length / vectors] from host memory in as the vectors the next
    /// matvecs multiply.</summary>
    public void Set(ReadOnlySpan<float> x, int vectors = 1)
    {
        Take(x.Length, vectors);
        Values.CopyFromCPU(x);
    }

    /// <summary>Copies <paramref name="x"/> [vectors, x.Length / vectors], already on the device, in as the vectors
    /// the next matvecs multiply.</summary>
    public void Set(ArrayView<float> x, int vectors = 1)
    {
        Take(x.Length, vectors);
        Values.CopyFrom(x);
    }

    private void Take(long values, int vectors)
    {
        if (vectors <= 0 || vectors > MaxVectors || values % vectors != 0 || values / vectors > Capacity)
            throw new ArgumentException($"x: {values} values as {vectors} vectors; this input holds up to {MaxVectors} vectors of up to {Capacity}");
        Length = (int)(values / vectors);
        Count = vectors;
        _q8Made = _q8kMade = false;
    }

    /// <summary>The q8_0 form: quants [Count, Length] and block scales [Count, Length / 32].</summary>
    internal (ArrayView<sbyte> Quants, ArrayView<float> Scales) Q8Form()
    {
        var values = (long)Count * Length;
        var blocks = values / DTypes.Q8BlockSize;
        if (!_q8Made)
        {
            GpuQuantizeQ8.Run(_device, Values, _q8.View, _q8d.View, checked((int)blocks));
            _q8Made = true;
        }
        return (((ArrayView<sbyte>)_q8.View).SubView(0, Math.Max(1, values)), ((ArrayView<float>)_q8d.View).SubView(0, Math.Max(1, blocks)));
    }

    /// <summary>The Q8_K form: quants [Count, Length], block scales [Count, Length / 256], run sums [Count, Length / 16].</summary>
    internal (ArrayView<sbyte> Quants, ArrayView<float> Scales, ArrayView<short> Sums) Q8KForm()
    {
        var values = (long)Count * Length;
        var blocks = values / Q8K.BlockValues;
        if (!_q8kMade)
        {
            GpuQuantizeQ8K.Run(_device, Values, _q8k.View, _q8kd.View, _q8ks.View, checked((int)blocks));
            _q8kMade = true;
        }
        return (((ArrayView<sbyte>)_q8k.View).SubView(0, Math.Max(1, values)), ((ArrayView<float>)_q8kd.View).SubView(0, Math.Max(1, blocks)),
            ((ArrayView<short>)_q8ks.View).SubView(0, Math.Max(1, values / Q8K.SumRun)));
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
