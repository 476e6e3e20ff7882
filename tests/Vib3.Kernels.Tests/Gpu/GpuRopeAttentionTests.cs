using ILGPU.Runtime;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>Rope (normal, NeoX, each plain and with YaRN), decode attention (f32 and f16 caches, MHA and GQA) and MLA's
/// latent attention on the device against the CPU kernels.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GpuRopeAttentionTests(IlgpuCpuDevice cpu)
{
    private static readonly YarnParams Yarn = new(0.25f, 1f, 1f, 32f, 1f, 4096);

    public static TheoryData<bool, bool> RopeKinds() => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(RopeKinds))]
    public void Rope_rotates_as_the_cpu_does(bool neox, bool yarn)
    {
        var rng = new Random(neox ? 1 : 2);
        int[] positions = [0, 1, 17, 4095, 70000];
        foreach (var headDim in new[] { 2, 8, 64, 128 })
            foreach (var nHeads in new[] { 1, 4 })
            {
                var rows = positions.Length;
                var x = TestData.Floats(rng, rows * nHeads * headDim, 2f);
                var expected = (float[])x.Clone();
                var table = new float[rows * headDim];
                for (var r = 0; r < rows; r++)
                {
                    var row = expected.AsSpan(r * nHeads * headDim, nHeads * headDim);
                    if (yarn && neox) Rope.NeoxYarn(row, nHeads, headDim, positions[r], 10000f, Yarn);
                    else if (yarn) Rope.NormalYarn(row, nHeads, headDim, positions[r], 10000f, Yarn);
                    else if (neox) Rope.Neox(row, nHeads, headDim, positions[r], 10000f);
                    else Rope.Normal(row, nHeads, headDim, positions[r], 10000f);
                    GpuRope.Table(headDim, positions[r], 10000f, yarn ? Yarn : null, table.AsSpan(r * headDim, headDim));
                }
                using var dx = cpu.Upload(x);
                using var dt = cpu.Upload(table);
                GpuRope.Rotate(cpu.Device, dx.View, rows, nHeads, headDim, dt.View, neox);
                var actual = IlgpuCpuDevice.Download(dx, x.Length);
                for (var i = 0; i < x.Length; i++)
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f * Math.Max(1, Math.Abs(expected[i])),
                        $"headDim {headDim} heads {nHeads} at {i}: cpu {expected[i]}, device {actual[i]}");
            }
    }

    public static TheoryData<bool> CacheTypes() => new() { false, true };

    [Theory]
    [MemberData(nameof(CacheTypes))]
    public void Decode_attention_equals_the_cpu_s(bool f16)
    {
        var rng = new Random(f16 ? 4 : 3);
        // MHA, GQA and one kv head for all; head widths below, at and above a warp's 32 lanes times two; positions below
        // and above a group's 8 warps and 256 threads.
        foreach (var (heads, kvHeads, headDim, positions) in new[]
                 { (1, 1, 64, 1), (1, 1, 64, 33), (4, 2, 40, 2), (4, 2, 40, 7), (4, 2, 40, 257), (8, 1, 128, 1), (8, 1, 128, 9) })
                {
                    var q = TestData.Floats(rng, heads * headDim);
                    var k = TestData.Floats(rng, positions * kvHeads * headDim, 3f);
                    var v = TestData.Floats(rng, positions * kvHeads * headDim);
                    var expected = new float[heads * headDim];
                    var scratch = new float[heads * positions];
                    using var dq = cpu.Upload(q);
                    using var dy = cpu.Device.Accelerator.Allocate1D<float>(heads * headDim);
                    using var ds = cpu.Device.Accelerator.Allocate1D<float>(heads * positions);
                    if (f16)
                    {
                        var kh = k.Select(x => (Half)x).ToArray();
                        var vh = v.Select(x => (Half)x).ToArray();
                        Attention.DecodeF16(q, kh, vh, positions, heads, kvHeads, headDim, expected, scratch);
                        using var dk = cpu.Upload(kh.Select(BitConverter.HalfToUInt16Bits).ToArray());
                        using var dv = cpu.Upload(vh.Select(BitConverter.HalfToUInt16Bits).ToArray());
                        GpuAttention.DecodeF16(cpu.Device, dq.View, dk.View, dv.View, positions, heads, kvHeads, headDim, dy.View, ds.View);
                    }
                    else
                    {
                        Attention.Decode(q, k, v, positions, heads, kvHeads, headDim, expected, scratch);
                        using var dk = cpu.Upload(k);
                        using var dv = cpu.Upload(v);
                        GpuAttention.Decode(cpu.Device, dq.View, dk.View, dv.View, positions, heads, kvHeads, headDim, dy.View, ds.View);
                    }
                    var actual = IlgpuCpuDevice.Download(dy, heads * headDim);
                    for (var i = 0; i < actual.Length; i++)
                        Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])),
                            $"{heads}/{kvHeads} heads of {headDim}, {positions} positions, at {i}: cpu {expected[i]}, device {actual[i]}");
                }
    }

    /// <summary>Several rows of one sequence at once (a prompt chunk): row r sees the first positions − (rows − 1 − r)
    /// positions of the cache, as each row does on the CPU.</summary>
    [Theory]
    [MemberData(nameof(CacheTypes))]
    public void Rows_of_a_prompt_chunk_attend_as_the_cpu_does(bool f16)
    {
        var rng = new Random(f16 ? 14 : 13);
        foreach (var (heads, kvHeads, headDim, positions, rows) in new[] { (4, 2, 40, 3, 3), (4, 4, 64, 70, 5), (8, 1, 128, 40, 2), (2, 1, 32, 9, 1) })
        {
            var q = TestData.Floats(rng, rows * heads * headDim);
            var k = TestData.Floats(rng, positions * kvHeads * headDim, 3f);
            var v = TestData.Floats(rng, positions * kvHeads * headDim);
            var visible = Enumerable.Range(0, rows).Select(r => positions - (rows - 1 - r)).ToArray();
            var kh = k.Select(x => (Half)x).ToArray();
            var vh = v.Select(x => (Half)x).ToArray();
            var expected = new float[rows * heads * headDim];
            for (var r = 0; r < rows; r++)
            {
                var qr = q.AsSpan(r * heads * headDim, heads * headDim);
                var yr = expected.AsSpan(r * heads * headDim, heads * headDim);
                var seen = visible[r] * kvHeads * headDim;
                if (f16) Attention.DecodeF16(qr, kh.AsSpan(0, seen), vh.AsSpan(0, seen), visible[r], heads, kvHeads, headDim, yr, new float[heads * visible[r]]);
                else Attention.Decode(qr, k.AsSpan(0, seen), v.AsSpan(0, seen), visible[r], heads, kvHeads, headDim, yr, new float[heads * visible[r]]);
            }
            using var dq = cpu.Upload(q);
            using var dvis = cpu.Upload(visible);
            using var dy = cpu.Device.Accelerator.Allocate1D<float>(expected.Length);
            using var ds = cpu.Device.Accelerator.Allocate1D<float>(rows * heads * positions);
            if (f16)
            {
                using var dk = cpu.Upload(kh.Select(BitConverter.HalfToUInt16Bits).ToArray());
                using var dv = cpu.Upload(vh.Select(BitConverter.HalfToUInt16Bits).ToArray());
                GpuAttention.Rows(cpu.Device, dq.View, rows, dk.View, dv.View, positions, dvis.View, heads, kvHeads, headDim, dy.View, ds.View);
            }
            else
            {
                using var dk = cpu.Upload(k);
                using var dv = cpu.Upload(v);
                GpuAttention.Rows(cpu.Device, dq.View, rows, dk.View, dv.View, positions, dvis.View, heads, kvHeads, headDim, dy.View, ds.View);
            }
            var actual = IlgpuCpuDevice.Download(dy, expected.Length);
            for (var i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])),
                    $"{rows} rows of {heads}/{kvHeads} heads of {headDim}, {positions} positions, at {i}: cpu {expected[i]}, device {actual[i]}");
        }
    }

    /// <summary>MLA's attention in latent space: queries seeing their own prefixes of the shared latent cache (a prefill
    /// chunk's causal mask) against the CPU's <see cref="MlaAttention.AttendLatents"/>.</summary>
    [Fact]
    public void Latent_attention_equals_the_cpu_s()
    {
        var rng = new Random(12);
        foreach (var (rank, ropeDim, positions, m) in new[] { (32, 8, 1, 1), (64, 16, 9, 4), (48, 8, 300, 3) })
        {
            var w = rank + ropeDim;
            var cache = TestData.Floats(rng, positions * w);
            var queries = TestData.Floats(rng, m * w, 0.5f);
            var visible = Enumerable.Range(0, m).Select(i => Math.Max(1, positions - (m - 1 - i))).ToArray();
            var expected = new float[m * rank];
            MlaAttention.AttendLatents(cache, positions, rank, ropeDim, queries, m, visible, 0.11f, expected);
            using var dc = cpu.Upload(cache);
            using var dq = cpu.Upload(queries);
            using var dv = cpu.Upload(visible);
            using var dy = cpu.Device.Accelerator.Allocate1D<float>(m * rank);
            using var ds = cpu.Device.Accelerator.Allocate1D<float>(m * positions);
            GpuAttention.AttendLatents(cpu.Device, dc.View, positions, rank, ropeDim, dq.View, m, dv.View, 0.11f, dy.View, ds.View);
            var actual = IlgpuCpuDevice.Download(dy, m * rank);
            for (var i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])),
                    $"rank {rank}+{ropeDim}, {positions} positions, {m} queries, at {i}: cpu {expected[i]}, device {actual[i]}");
        }
    }

    [Fact]
    public void Add_scaled_equals_the_cpu_s()
    {
        var rng = new Random(8);
        foreach (var n in new[] { 1, 31, 32, 33, 1000 })
        {
            var a = TestData.Floats(rng, n);
            var acc = TestData.Floats(rng, n);
            var expected = (float[])acc.Clone();
            VectorOps.AddScaled(a, 0.37f, expected);
            using var da = cpu.Upload(a);
            using var dacc = cpu.Upload(acc);
            GpuVectorOps.AddScaled(cpu.Device, da.View, 0.37f, dacc.View, n);
            var actual = IlgpuCpuDevice.Download(dacc, n);
            for (var i = 0; i < n; i++) Assert.Equal(expected[i], actual[i], 1e-6f * Math.Max(1, Math.Abs(expected[i])));
        }
    }
}
