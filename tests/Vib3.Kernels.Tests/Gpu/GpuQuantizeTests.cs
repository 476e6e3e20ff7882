using System.Buffers.Binary;
using ILGPU.Runtime;
using Vib3.Core.Quant;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>The activation forms the device's block kernels multiply are the CPU's, integer for integer: Q8_K against
/// Q8K.Quantize's bytes (ties, negative and positive extremes, an all-zero block, a subnormal block), q8_0 against the
/// CPU quantiser's quants and f16-rounded scales.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed unsafe class GpuQuantizeTests(IlgpuCpuDevice cpu)
{
    private static float[] Activations(Random rng, int n)
    {
        var x = TestData.Floats(rng, n, 4f);
        if (n >= 256)
        {
            x[3] = -9f; x[100] = 9f;           // block 0: a tie, the first (negative) one wins
        }
        if (n >= 512) Array.Clear(x, 256, 256); // block 1: all zero
        if (n >= 768)
        {
            for (var i = 512; i < 768; i++) x[i] *= 1e-3f;
            x[700] = 5e-3f;                     // block 2: a positive extreme
        }
        if (n >= 1024)
            for (var i = 768; i < 1024; i++) x[i] = 1e-40f * (i % 7 - 3); // block 3: subnormal values
        for (var i = 17; i < n; i += 97) x[i] = MathF.Round(x[i]) + 0.5f; // halves, for round-half-to-even
        return x;
    }

    [Theory]
    [InlineData(256)]
    [InlineData(512)]
    [InlineData(1024)]
    [InlineData(1280)]
    public void Q8_k_is_the_cpu_s_bytes(int n)
    {
        var x = Activations(new Random(n), n);
        var expected = new byte[n / Q8K.BlockValues * Q8K.BlockBytes];
        Q8K.Quantize(x, expected);

        using var input = new GpuMatVecInput(cpu.Device, n);
        input.Set(x);
        var (q, scales, sums) = input.Q8KForm();
        var quants = new sbyte[n];
        var d = new float[n / 256];
        var runs = new short[n / 16];
        q.CopyToCPU(quants);
        scales.CopyToCPU(d);
        sums.CopyToCPU(runs);
        for (var b = 0; b < n / 256; b++)
        {
            var block = expected.AsSpan(b * Q8K.BlockBytes, Q8K.BlockBytes);
            Assert.Equal(BinaryPrimitives.ReadSingleLittleEndian(block), d[b]);
            for (var j = 0; j < 256; j++) Assert.True((sbyte)block[Q8K.QuantsOffset + j] == quants[b * 256 + j], $"block {b} quant {j}");
            for (var r = 0; r < 16; r++) Assert.Equal(BinaryPrimitives.ReadInt16LittleEndian(block[(Q8K.SumsOffset + 2 * r)..]), runs[b * 16 + r]);
        }
    }

    [Theory]
    [InlineData(32)]
    [InlineData(96)]
    [InlineData(1024)]
    public void Q8_0_is_the_cpu_s_quants_and_scales(int n)
    {
        var x = Activations(new Random(n + 1), n);
        var expectedQ = new sbyte[n];
        var expectedD = new float[n / 32];
        fixed (float* px = x)
        fixed (sbyte* pq = expectedQ)
        fixed (float* pd = expectedD)
            RowDot.QuantizeQ8Bytes(px, n / 32, pq, pd);

        using var input = new GpuMatVecInput(cpu.Device, n);
        input.Set(x);
        var (q, scales) = input.Q8Form();
        var quants = new sbyte[n];
        var d = new float[n / 32];
        q.CopyToCPU(quants);
        scales.CopyToCPU(d);
        Assert.Equal(expectedQ, quants);
        Assert.Equal(expectedD, d);
    }

    /// <summary>The device's f16 rounding (for q8_0 scales) is the CPU's (float)(Half)v for every kind of value:
    /// normals at and between ties, f16 subnormals, zero, overflow.</summary>
    [Fact]
    public void Rounding_through_f16_is_the_cpu_s()
    {
        var rng = new Random(2);
        var values = new List<float> { 0f, -0f, 1f, 65504f, 65519f, 65520f, 1e6f, 6.1035156e-5f, 6.0e-5f, 3e-8f, 2.9802322e-8f, 1e-40f, -0.0312805f };
        for (var i = 0; i < 2000; i++) values.Add((float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-9, 5))));
        for (var i = 0; i < 200; i++) values.Add(BitConverter.UInt32BitsToSingle(0x3C000000u + (uint)rng.Next(0, 1 << 14) * 0x1000u)); // exact f16 ties
        var x = values.ToArray();
        using var dx = cpu.Upload(x);
        using var dy = cpu.Device.Accelerator.Allocate1D<float>(x.Length);
        var kernel = cpu.Device.Accelerator.LoadAutoGroupedStreamKernel<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>>(
            (i, a, b) => b[i] = Rounding.ThroughHalf(a[i]));
        kernel(x.Length, dx.View, dy.View);
        var actual = IlgpuCpuDevice.Download(dy, x.Length);
        for (var i = 0; i < x.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits((float)(Half)x[i]) == BitConverter.SingleToUInt32Bits(actual[i]), $"{x[i]:R}: cpu {(float)(Half)x[i]:R}, device {actual[i]:R}");
    }
}
