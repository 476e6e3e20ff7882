using LLama.Native;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>K-quant files vib3 must refuse, each with one clear line and no model published: a llama.cpp Q4_K_S file
/// (Q4_K experts and attention, Q5_K attn_v) whose blocks lie — a NaN or infinite super-scale (d, or dmin, which sit at
/// the block's start in both types) is named with its tensor, type and block — and expert types mixed in ways vib3's
/// pages cannot hold.</summary>
public sealed class KQuantConversionRefusalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-kquant-refusal-" + Guid.NewGuid().ToString("N")[..12]);

    public KQuantConversionRefusalTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Theory]
    [InlineData("blk.0.attn_q.weight", "q4_k", 0, 0, 0x7E00)]        // d is NaN (dense tensor, first block)
    [InlineData("blk.1.attn_v.weight", "q5_k", 3, 2, 0x7C00)]        // dmin is +inf (the file's other type)
    [InlineData("blk.1.ffn_up_exps.weight", "q4_k", 2, 2, 0xFC00)]   // dmin is −inf (expert tensor, third block)
    [InlineData("blk.0.ffn_down_exps.weight", "q4_k", 5, 0, 0x7C01)] // d is a NaN with payload (down, read whole per expert)
    public void Non_finite_super_scale_is_refused_naming_the_tensor(string tensor, string type, int block, int field, int bits)
    {
        var file = Q4_K_SFile();
        long offset;
        using (var reader = GgufCheckpoint.Open(file))
        {
            var t = reader.Tensors[tensor];
            Assert.Equal(type, t.DType.Name());
            offset = t.DataOffset + block * t.DType.Layout().BlockBytes + field;
        }
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            stream.Position = offset;
            stream.Write(BitConverter.GetBytes((ushort)bits));
        }

        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var e = Assert.Throws<Vib3Exception>(() =>
            new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(file, "m", null, 256)));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains($"tensor '{tensor}' ({type}) has a NaN or infinite scale in block {block}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(catalog.List());
    }

    /// <summary>Mixed block types convert (llama.cpp's mixes), but only as whole grids: gate and up of a layer share one
    /// type, so a file whose layer-1 gate is IQ4_XS while its up is Q4_K is refused naming both.</summary>
    [Fact]
    public void Gate_and_up_of_one_layer_in_different_types_are_refused()
    {
        var file = Q4_K_SFile();
        PatchType(file, "blk.1.ffn_gate_exps.weight", 23); // IQ4_XS: smaller blocks than Q4_K, so the data still fits
        var (e, catalog) = Refused(file);
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("'blk.1.ffn_gate_exps.weight' is iq4_xs, 'blk.1.ffn_up_exps.weight' is q4_k", e.Message);
        Assert.Empty(catalog.List());
    }

    /// <summary>Only block types mix: f32 experts in layer 0 and f16 in layer 1 still need an explicit --dtype.</summary>
    [Fact]
    public void Float_experts_of_different_types_are_refused()
    {
        var file = Path.Combine(_dir, "model.gguf");
        SyntheticModelGenerator.WriteGguf(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), file);
        foreach (var matrix in new[] { "gate", "up", "down" })
            PatchType(file, $"blk.1.ffn_{matrix}_exps.weight", 1); // F16: half the bytes, so the data still fits
        var (e, catalog) = Refused(file);
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("'blk.0.ffn_gate_exps.weight' is f32, 'blk.1.ffn_gate_exps.weight' is f16); pass --dtype", e.Message);
        Assert.Empty(catalog.List());
    }

    private (Vib3Exception Error, ModelCatalog Catalog) Refused(string file)
    {
        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var e = Assert.Throws<Vib3Exception>(() =>
            new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(file, "m", null, null)));
        return (e, catalog);
    }

    /// <summary>Rewrites the ggml type id in tensor <paramref name="name"/>'s GGUF tensor info (after its name, dimension
    /// count and dimensions).</summary>
    private static void PatchType(string file, string name, uint type)
    {
        var bytes = File.ReadAllBytes(file);
        var key = BitConverter.GetBytes((ulong)name.Length).Concat(System.Text.Encoding.UTF8.GetBytes(name)).ToArray();
        var at = bytes.AsSpan().IndexOf(key) + key.Length;
        var nDims = BitConverter.ToUInt32(bytes, at);
        BitConverter.GetBytes(type).CopyTo(bytes, at + 4 + 8 * (int)nDims);
        File.WriteAllBytes(file, bytes);
    }

    private string Q4_K_SFile()
    {
        var f32 = Path.Combine(_dir, "model.gguf");
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256, SharedExpertHidden = 256 };
        SyntheticModelGenerator.WriteGguf(spec, f32);
        var q = Path.Combine(_dir, "model.q4_k_s.gguf");
        LlamaCppQuantizer.Quantize(f32, q, LLamaFtype.MOSTLY_Q4_K_S);
        return q;
    }
}
