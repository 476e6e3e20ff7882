using Vib3.Core;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>An expert bundle page's FFN on the device against the CPU's products and SwiGLU, for one row and for
/// several, in the types expert pages come in.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GpuBundleFfnTests(IlgpuCpuDevice cpu)
{
    [Theory]
    [InlineData(DType.Q4_K, DType.Q6_K, 256, 256)]
    [InlineData(DType.Q8_0, DType.Q8_0, 64, 96)]
    [InlineData(DType.F16, DType.BF16, 40, 72)]
    public void A_bundle_page_equals_the_cpu_s_ffn(DType gateUpType, DType downType, int r, int dim)
    {
        var rng = new Random(r + dim);
        var (gateUp, _) = TestData.Weights(rng, gateUpType, 2 * r, dim);
        var (down, _) = TestData.Weights(rng, downType, dim, r);
        var page = gateUp.Concat(down).ToArray();
        using var ffn = new GpuBundleFfn(cpu.Device, r, 3);
        using var input = new GpuMatVecInput(cpu.Device, dim, 3);
        using var devicePage = cpu.Upload(page);
        using var output = cpu.Device.Accelerator.Allocate1D<float>(3 * dim);
        foreach (var m in new[] { 1, 3 })
        {
            var x = TestData.Floats(rng, m * dim);
            var products = new float[m * 2 * r];
            var hidden = new float[m * r];
            var expected = new float[m * dim];
            MatMul.Compute(gateUpType, gateUp, 2 * r, dim, x, m, products);
            for (var t = 0; t < m; t++) SwiGlu.Compute(products.AsSpan(t * 2 * r, r), products.AsSpan(t * 2 * r + r, r), hidden.AsSpan(t * r, r));
            MatMul.Compute(downType, down, dim, r, hidden, m, expected);

            input.Set(x, m);
            ffn.Run(gateUpType, downType, devicePage.View, r, dim, input, output.View);
            var actual = IlgpuCpuDevice.Download(output, m * dim);
            for (var t = 0; t < m; t++)
            {
                // The hidden values differ in their last bits, so their q8 quantisation may round a value the other way.
                var scale = expected.Skip(t * dim).Take(dim).Max(Math.Abs);
                for (var i = 0; i < dim; i++)
                    Assert.True(Math.Abs(expected[t * dim + i] - actual[t * dim + i]) <= 2e-3f * Math.Max(1e-3f, scale),
                        $"{gateUpType}/{downType} r {r} dim {dim}, row {t} of {m}, at {i}: cpu {expected[t * dim + i]}, device {actual[t * dim + i]}");
            }
        }
    }
}
