using System.Buffers.Binary;
using Vib3.Convert.Config;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>float8 e4m3 (fn) decoding and encoding, and a block-scaled folder as DeepSeek-V3 publishes it read back
/// through the dequantising reader against a dequantisation written here from the format's definition.</summary>
public sealed class Float8Tests
{
    /// <summary>The format's definition: (−1)^s · 2^(e−7) · (1 + m/8), subnormals 2^−6 · m/8, S.1111.111 NaN.</summary>
    private static float Reference(int code)
    {
        int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
        if (e == 15 && m == 7) return float.NaN;
        var magnitude = e == 0 ? Math.Pow(2, -6) * m / 8 : Math.Pow(2, e - 7) * (1 + m / 8.0);
        return (float)(s == 1 ? -magnitude : magnitude);
    }

    [Fact]
    public void Every_code_decodes_as_the_format_defines()
    {
        for (var code = 0; code < 256; code++)
        {
            var want = Reference(code);
            var got = Float8E4M3.ToFloat((byte)code);
            if (float.IsNaN(want))
                Assert.True(float.IsNaN(got), $"code 0x{code:X2} should be NaN, got {got}");
            else
                Assert.True(BitConverter.SingleToUInt32Bits(want) == BitConverter.SingleToUInt32Bits(got),
                    $"code 0x{code:X2}: want {want:R}, got {got:R}");
        }
        Assert.Equal(448f, Float8E4M3.ToFloat(0x7E));
        Assert.Equal(MathF.Pow(2, -9), Float8E4M3.ToFloat(0x01));
        Assert.True(float.IsNegative(Float8E4M3.ToFloat(0x80)));
    }

    [Fact]
    public void Encoding_inverts_decoding_and_rounds_halfway_to_even()
    {
        for (var code = 0; code < 256; code++)
        {
            if ((code & 0x7F) == 0x7F) continue;
            Assert.Equal(code, Float8E4M3.FromFloat(Reference(code)));
        }
        for (var code = 0; code < 0x7E; code++) // each pair of neighbouring positive values: the midpoint goes to the even code
        {
            var mid = (Reference(code) + Reference(code + 1)) / 2;
            Assert.Equal(code % 2 == 0 ? code : code + 1, Float8E4M3.FromFloat(mid));
            Assert.Equal(code, Float8E4M3.FromFloat(MathF.BitDecrement(mid)));
            Assert.Equal(code + 1, Float8E4M3.FromFloat(MathF.BitIncrement(mid)));
        }
        Assert.Equal(0x7E, Float8E4M3.FromFloat(1e6f));
        Assert.Equal(0xFE, Float8E4M3.FromFloat(-500f));
        Assert.True(float.IsNaN(Float8E4M3.ToFloat(Float8E4M3.FromFloat(float.NaN))));
    }

    /// <summary>Blocks of 24 over dims of 64 and 40 leave partial blocks at the right and bottom edges.</summary>
    private static readonly SyntheticModelSpec Spec = new()
    {
        Family = ModelFamily.Deepseek2, Layers = 2, Dim = 64, Heads = 4, ExpertHidden = 40, Experts = 4, TopK = 2,
        Vocab = 300, Context = 128, Seed = 11, DType = DType.BF16, Fp8BlockSize = 24, MtpLayers = 1,
    };

    [Fact]
    public void The_folder_holds_float8_linear_weights_with_scale_grids_and_says_so_in_config()
    {
        using var dir = new TempFolder();
        SyntheticModelGenerator.WriteHf(Spec, dir.Path);
        using var raw = SafetensorsCheckpoint.Open(dir.Path);

        var f8 = raw.Tensors.Values.Where(t => t.Float8).Select(t => t.Name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.kv_b_proj.weight", f8);
        Assert.Contains("model.layers.1.mlp.experts.3.down_proj.weight", f8);
        Assert.Contains("model.layers.1.mlp.shared_experts.up_proj.weight", f8);
        Assert.Contains("model.layers.2.eh_proj.weight", f8); // the MTP layer's projection
        foreach (var plain in new[] { "model.embed_tokens.weight", "lm_head.weight", "model.layers.1.mlp.gate.weight",
                     "model.layers.1.mlp.gate.e_score_correction_bias", "model.layers.0.input_layernorm.weight", "model.layers.2.shared_head.head.weight" })
            Assert.DoesNotContain(plain, f8);
        foreach (var name in f8)
        {
            var scale = raw.Tensors[name + "_scale_inv"];
            Assert.Equal(DType.F32, scale.DType);
            var w = raw.Tensors[name];
            Assert.Equal(new[] { (w.Shape[0] + 23) / 24, (w.Shape[1] + 23) / 24 }, scale.Shape);
        }
        Assert.Equal(new Fp8BlockScaling(24, 24), Fp8BlockScaling.FromConfig(HfConfig.Load(dir.Path)));
        var e = Assert.Throws<Vib3Exception>(() => raw.ReadAll("model.layers.0.self_attn.kv_b_proj.weight"));
        Assert.Contains("float8", e.Message);
    }

    [Fact]
    public void Float8_weights_read_as_code_times_block_scale_at_any_offset()
    {
        using var dir = new TempFolder();
        SyntheticModelGenerator.WriteHf(Spec, dir.Path);
        using var raw = SafetensorsCheckpoint.Open(dir.Path);
        var reader = Fp8DequantisingCheckpoint.Wrap(raw, Fp8BlockScaling.FromConfig(HfConfig.Load(dir.Path)));

        Assert.DoesNotContain(reader.Tensors.Keys, n => n.EndsWith("_scale_inv", StringComparison.Ordinal));
        Assert.Equal(raw.Tensors.Count - raw.Tensors.Values.Count(t => t.Float8), reader.Tensors.Count); // one grid per weight consumed
        foreach (var t in reader.Tensors.Values.Where(t => !t.Float8))
            Assert.Equal(raw.ReadAll(t.Name), reader.ReadAll(t.Name));

        foreach (var t in reader.Tensors.Values.Where(t => t.Float8))
        {
            var want = Dequantise(t, raw.Tensors[t.Name + "_scale_inv"], 24);
            Assert.Equal(want, Floats(reader, t, 0, want.Length));
            // a read starting mid-row inside a block and ending mid-block of a later row
            var first = (int)(t.Shape[1] + 5);
            var count = (int)Math.Min(want.Length - first, 2 * t.Shape[1] + 7);
            Assert.Equal(want.AsSpan(first, count).ToArray(), Floats(reader, t, first, count));
        }
    }

    [Fact]
    public void The_dequantised_values_are_near_the_unquantised_ones_and_are_what_synth_calls_the_values()
    {
        using var dir = new TempFolder();
        SyntheticModelGenerator.WriteHf(Spec, dir.Path);
        using var raw = SafetensorsCheckpoint.Open(dir.Path);
        var reader = Fp8DequantisingCheckpoint.Wrap(raw, Fp8BlockScaling.FromConfig(HfConfig.Load(dir.Path)));
        const string name = "model.layers.1.mlp.experts.2.gate_proj.weight";
        var t = reader.Tensors[name];
        var read = Floats(reader, t, 0, (int)t.ElementCount);

        Assert.Equal(SyntheticModelGenerator.Values(Spec, name), read);
        var unquantised = SyntheticModelGenerator.Values(Spec with { Fp8BlockSize = 0, DType = DType.F32 }, name);
        Assert.NotEqual(unquantised, read);
        var worst = unquantised.Zip(read, (a, b) => MathF.Abs(a - b)).Max();
        var largest = unquantised.Max(MathF.Abs);
        Assert.True(worst <= largest / 16, $"max |Δ| {worst} against max |w| {largest}: e4m3 keeps 3 mantissa bits");
    }

    /// <summary>value[i, j] = decode(code[i, j]) · scale[i / block, j / block], from the file's bytes.</summary>
    private static float[] Dequantise(SourceTensor weight, SourceTensor scale, int block)
    {
        var codes = FileBytes(weight);
        var scaleBytes = FileBytes(scale);
        long rows = weight.Shape[0], cols = weight.Shape[1], gridCols = scale.Shape[1];
        var values = new float[rows * cols];
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++)
            {
                var s = BinaryPrimitives.ReadSingleLittleEndian(scaleBytes.AsSpan((int)(4 * (i / block * gridCols + j / block))));
                values[i * cols + j] = Reference(codes[i * cols + j]) * s;
            }
        return values;
    }

    private static byte[] FileBytes(SourceTensor t)
    {
        using var f = File.OpenRead(t.FilePath);
        f.Position = t.DataOffset;
        var bytes = new byte[t.ByteLength];
        f.ReadExactly(bytes);
        return bytes;
    }

    private static float[] Floats(ICheckpointReader reader, SourceTensor t, long first, int count)
    {
        var bytes = new byte[4 * count];
        reader.Read(t, 4 * first, bytes);
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return values;
    }
}
