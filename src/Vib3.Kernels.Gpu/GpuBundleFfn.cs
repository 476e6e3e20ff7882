using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;

namespace Vib3.Kernels.Gpu;

/// <summary>One expert bundle page on the device for m rows: output[t] = W_down[:, rows] · (silu(W_gate[rows]·x_t) ⊙
/// (W_up[rows]·x_t)), the page's contribution before the routing weight, as the CPU's bundle FFN computes it. The page
/// holds the bundle's r gate rows and r up rows [2r, dim] (one product), then its down columns [dim, r].</summary>
public sealed class GpuBundleFfn : IDisposable
{
    private readonly GpuDevice _device;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _gateUp; // [rows, 2 · bundle rows]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _hidden; // [rows, bundle rows]
    private readonly GpuMatVecInput _hiddenInput;                   // the hidden vectors as the down product's input

    /// <param name="maxBundleRows">The most rows (r) a bundle of the model has.</param>
    /// <param name="maxRows">The most step rows one call takes.</param>
    public GpuBundleFfn(GpuDevice device, int maxBundleRows, int maxRows)
    {
        _device = device;
        _gateUp = device.Accelerator.Allocate1D<float>((long)maxRows * 2 * maxBundleRows);
        _hidden = device.Accelerator.Allocate1D<float>((long)maxRows * maxBundleRows);
        _hiddenInput = new GpuMatVecInput(device, maxBundleRows, maxRows);
    }

    /// <param name="page">the bundle page as stored: [2r, dim] gate and up rows in <paramref name="gateUpType"/>, then
    /// [dim, r] down in <paramref name="downType"/></param>
    /// <param name="x">the m rows' FFN inputs [m, dim]</param>
    /// <param name="output">[m, dim]</param>
    public void Run(DType gateUpType, DType downType, ArrayView<byte> page, int r, int dim, GpuMatVecInput x, ArrayView<float> output)
    {
        var m = x.Count;
        var gateUpBytes = gateUpType.ByteCount((long)2 * r * dim);
        var gateUp = ((ArrayView<float>)_gateUp.View).SubView(0, (long)m * 2 * r);
        var hidden = ((ArrayView<float>)_hidden.View).SubView(0, (long)m * r);
        GpuMatVec.Compute(_device, gateUpType, page.SubView(0, gateUpBytes), 2 * r, dim, x, gateUp);
        GpuSwiGlu.Paired(_device, gateUp, hidden, m, r);
        _hiddenInput.Set(hidden, m);
        GpuMatVec.Compute(_device, downType, page.SubView(gateUpBytes, page.Length - gateUpBytes), dim, r, _hiddenInput, output);
    }

    public void Dispose()
    {
        _gateUp.Dispose();
        _hidden.Dispose();
        _hiddenInput.Dispose();
    }
}
