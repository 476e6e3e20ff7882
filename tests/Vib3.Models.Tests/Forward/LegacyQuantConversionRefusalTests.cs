using LLama.Native;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>A llama.cpp Q4_1 file whose blocks lie, and a --dtype vib3 cannot write: one clear line naming the tensor
/// or the type, and no model published.</summary>
public sealed class LegacyQuantConversionRefusalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-legacy-refusal-" + Guid.NewGuid().ToString("N")[..12]);

    public LegacyQuantConversionRefusalTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Theory]
    [InlineData("blk.0.attn_q.weight", 0, 0x7E00)]      // d is NaN (dense tensor, first block)
    [InlineData("blk.1.ffn_up_exps.weight", 2, 0x7C00)] // m is +inf (expert tensor, third block)
    [InlineData("blk.0.ffn_down_exps.weight", 5, 0xFC00)] // d is −inf (the down matrix, read whole per expert)
    public void Non_finite_scale_is_refused_naming_the_tensor(string tensor, int block, int bits)
    {
        var file = Q4_1File();
        long offset;
        using (var reader = GgufCheckpoint.Open(file))
            offset = reader.Tensors[tensor].DataOffset + block * DType.Q4_1.Layout().BlockBytes + (bits == 0x7C00 ? 2 : 0);
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            stream.Position = offset;
            stream.Write(BitConverter.GetBytes((ushort)bits));
        }

        var (e, catalog) = Refused(file, null);
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains($"tensor '{tensor}' (q4_1) has a NaN or infinite scale in block {block}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(catalog.List());
    }

    [Theory]
    [InlineData("iq4_nl")]
    [InlineData("tq1_0")]
    public void Dtype_vib3_does_not_write_is_refused_before_anything_is_written(string dtype)
    {
        var file = Path.Combine(_dir, "model.gguf");
        SyntheticModelGenerator.WriteGguf(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), file);

        var (e, catalog) = Refused(file, DTypes.Parse(dtype));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains($"--dtype {dtype}: vib3 does not write {dtype}", e.Message);
        Assert.Empty(catalog.List());
    }

    private string Q4_1File()
    {
        var f32 = Path.Combine(_dir, "model.gguf");
        SyntheticModelGenerator.WriteGguf(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), f32);
        var q = Path.Combine(_dir, "model.q4_1.gguf");
        LlamaCppQuantizer.Quantize(f32, q, LLamaFtype.MOSTLY_Q4_1);
        return q;
    }

    private (Vib3Exception Error, ModelCatalog Catalog) Refused(string file, DType? dtype)
    {
        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var e = Assert.Throws<Vib3Exception>(() =>
            new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(file, "m", dtype, 32)));
        return (e, catalog);
    }
}
