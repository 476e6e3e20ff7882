using Vib3.Core;

namespace Vib3.Tests.Core;

public sealed class DTypeConvertTests
{
    [Theory]
    [InlineData(1.0f, 0x3F80)]
    [InlineData(-2.0f, 0xC000)]
    [InlineData(1.00390625f, 0x3F80)] // exactly halfway between 0x3F80 and 0x3F81: ties to even
    [InlineData(1.01171875f, 0x3F82)] // halfway between 0x3F81 and 0x3F82: ties to even (up)
    [InlineData(float.PositiveInfinity, 0x7F80)]
    public void Bf16_rounds_to_nearest_even(float value, int bits) =>
        Assert.Equal((ushort)bits, DTypeConvert.FloatToBF16(value));

    [Fact]
    public void Bf16_keeps_nan_a_nan() => Assert.True(float.IsNaN(DTypeConvert.BF16ToFloat(DTypeConvert.FloatToBF16(float.NaN))));

    [Theory]
    [InlineData(DType.F32, DType.F16)]
    [InlineData(DType.F32, DType.BF16)]
    [InlineData(DType.F32, DType.Q8_0)]
    [InlineData(DType.BF16, DType.F32)]
    [InlineData(DType.F16, DType.Q8_0)]
    [InlineData(DType.Q8_0, DType.F16)]
    public void Chunked_convert_matches_the_scalar_path_at_every_tail(DType from, DType to)
    {
        // Lengths straddling the 4096-value chunk and the 32-value q8_0 block.
        foreach (var count in new[] { 32, 64, 4064, 4096, 4128, 8192 + 96 })
        {
            var values = Random(count, seed: count);
            var src = new byte[from.ByteCount(count)];
            DTypeConvert.FromF32(from, values, src);
            var viaConvert = new byte[to.ByteCount(count)];
            DTypeConvert.Convert(from, src, to, viaConvert, count);

            var f = new float[count];
            DTypeConvert.ToF32(from, src, f);
            var reference = new byte[to.ByteCount(count)];
            DTypeConvert.FromF32(to, f, reference);
            Assert.Equal(reference, viaConvert);
        }
    }

    [Fact]
    public void Q8_0_error_is_within_half_a_step_of_each_block()
    {
        var values = Random(32 * 40, seed: 3);
        var q = new byte[DType.Q8_0.ByteCount(values.Length)];
        DTypeConvert.FromF32(DType.Q8_0, values, q);
        var back = new float[values.Length];
        DTypeConvert.ToF32(DType.Q8_0, q, back);
        for (var b = 0; b < values.Length / 32; b++)
        {
            var block = values.AsSpan(b * 32, 32);
            var amax = 0f;
            foreach (var v in block) amax = MathF.Max(amax, MathF.Abs(v));
            var step = amax / 127f;
            for (var j = 0; j < 32; j++)
                Assert.True(MathF.Abs(values[b * 32 + j] - back[b * 32 + j]) <= step * 0.5f + amax * 1e-3f);
        }
    }

    [Fact]
    public void Q8_0_rejects_a_partial_block()
    {
        var e = Assert.Throws<Vib3Exception>(() => DType.Q8_0.ByteCount(33));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
    }

    /// <summary>The layout table: q8_0 as before, ggml's legacy block sizes, and every name parses back to its type.</summary>
    [Theory]
    [InlineData(DType.F32, 1, 4)]
    [InlineData(DType.Q8_0, 32, 34)]
    [InlineData(DType.Q4_0, 32, 18)]
    [InlineData(DType.Q4_1, 32, 20)]
    [InlineData(DType.Q5_0, 32, 22)]
    [InlineData(DType.Q5_1, 32, 24)]
    public void Layout_gives_block_length_and_bytes(DType t, int values, int bytes)
    {
        Assert.Equal(values, t.BlockSize());
        Assert.Equal(3L * bytes, t.ByteCount(3L * values));
        Assert.Equal(t, DTypes.Parse(t.Name().ToUpperInvariant()));
        if (values > 1) Assert.Equal(SqlState.InvalidParameterValue, Assert.Throws<Vib3Exception>(() => t.ByteCount(values + 1)).SqlState);
    }

    /// <summary>A legacy-quantised GGUF converted with every --dtype: the chunked conversion equals dequantising then
    /// encoding, across the chunk boundary; encoding into a legacy type vib3 does not write is refused by name.</summary>
    [Theory]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_1)]
    [InlineData(DType.Q5_0)]
    [InlineData(DType.Q5_1)]
    public void Legacy_blocks_convert_to_every_writable_type(DType from)
    {
        foreach (var to in DTypes.All.Where(t => t.IsWritable()))
            foreach (var count in new[] { 32, 4064, 4128, 4352 }.Where(n => n % to.BlockSize() == 0))
            {
                var src = new byte[from.ByteCount(count)];
                new Random(count).NextBytes(src);
                for (var b = 0; b < count / 32; b++) // finite f16 scales (d, and m where there is one)
                {
                    BitConverter.TryWriteBytes(src.AsSpan(b * from.Layout().BlockBytes), (Half)0.01f);
                    if (from.Layout().LeadingScales == 2) BitConverter.TryWriteBytes(src.AsSpan(b * from.Layout().BlockBytes + 2), (Half)(-0.1f));
                }
                var viaConvert = new byte[to.ByteCount(count)];
                DTypeConvert.Convert(from, src, to, viaConvert, count);
                if (to == from)
                {
                    Assert.Equal(src, viaConvert); // the same type is copied bit for bit, never re-quantised
                    continue;
                }
                var f = new float[count];
                DTypeConvert.ToF32(from, src, f);
                var reference = new byte[to.ByteCount(count)];
                DTypeConvert.FromF32(to, f, reference);
                Assert.Equal(reference, viaConvert);
            }
        if (from.IsWritable()) return;
        var e = Assert.Throws<Vib3Exception>(() => DTypeConvert.FromF32(from, new float[32], new byte[64]));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains($"cannot write {from.Name()}", e.Message);
    }

    [Fact]
    public void Unknown_dtype_names_the_supported_ones()
    {
        var e = Assert.Throws<Vib3Exception>(() => DTypes.Parse("q7_0"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("f32, f16, bf16, q8_0", e.Message);
    }

    private static float[] Random(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 4 - 2)).ToArray();
    }
}
