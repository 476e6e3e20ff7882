using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Models.Tests.LlamaCpp;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>IQ files whose blocks lie are refused with one clear line and no model published: a NaN or infinite
/// super-scale d is named with its tensor, type and block — at the block's start for IQ2_XXS and IQ3_S, and for
/// IQ1_M, which stores no whole f16, in the top nibbles of its four scale words.</summary>
public sealed class IQuantConversionRefusalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-iquant-refusal-" + Guid.NewGuid().ToString("N")[..12]);

    public IQuantConversionRefusalTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>Byte offset, within an IQ1_M block, of its first scale word: the top nibble of word i (little-endian)
    /// holds bits 4i…4i+3 of d.</summary>
    private const int IQ1MScaleWords = 48;

    [Theory]
    [InlineData(DType.IQ2_XXS, "blk.0.attn_q.weight", 0, 0x7E00)]        // NaN, dense tensor, first block
    [InlineData(DType.IQ3_S, "blk.1.ffn_up_exps.weight", 2, 0xFC00)]     // −inf, expert tensor, third block
    [InlineData(DType.IQ1_M, "blk.0.ffn_down_exps.weight", 5, 0x7C01)]   // NaN with payload, scattered over the block
    [InlineData(DType.IQ1_M, "blk.1.attn_v.weight", 1, 0x7C00)]          // +inf, scattered over the block
    public void Non_finite_super_scale_is_refused_naming_the_tensor(DType type, string tensor, int block, int bits)
    {
        var file = IQFile(type);
        long offset;
        using (var reader = GgufCheckpoint.Open(file))
        {
            var t = reader.Tensors[tensor];
            Assert.Equal(type, t.DType);
            offset = t.DataOffset + block * type.Layout().BlockBytes;
        }
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            var bytes = new byte[type.Layout().BlockBytes];
            stream.Position = offset;
            stream.ReadExactly(bytes);
            WriteSuperScale(type, bytes, (ushort)bits);
            stream.Position = offset;
            stream.Write(bytes);
        }

        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var e = Assert.Throws<Vib3Exception>(() =>
            new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(file, "m", null, 256)));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains($"tensor '{tensor}' ({type.Name()}) has a NaN or infinite scale in block {block}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(catalog.List());
    }

    /// <summary>The same file unpatched converts: the refusal is the scale's, not the type's.</summary>
    [Fact]
    public void Untouched_iq1_m_file_converts()
    {
        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(IQFile(DType.IQ1_M), "m", null, 256));
        Assert.All(manifest.ExpertGrids, g => Assert.Equal("iq1_m", g.DType));
    }

    private static void WriteSuperScale(DType type, Span<byte> block, ushort bits)
    {
        if (type != DType.IQ1_M)
        {
            BitConverter.TryWriteBytes(block, bits);
            return;
        }
        for (var i = 0; i < 4; i++)
        {
            ref var high = ref block[IQ1MScaleWords + 2 * i + 1];
            high = (byte)((high & 0x0F) | ((bits >> (4 * i)) & 0xF) << 4);
        }
    }

    /// <summary>The 256-wide synthetic Mixtral with every matrix quantised to <paramref name="type"/> by ggml.</summary>
    private string IQFile(DType type)
    {
        var f32 = Path.Combine(_dir, "model.gguf");
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256, SharedExpertHidden = 256 };
        SyntheticModelGenerator.WriteGguf(spec, f32);
        var quantised = Path.Combine(_dir, $"model.{type.Name()}.gguf");
        GgufRewrite.Requantise(f32, quantised, decoded: null, type);
        return quantised;
    }
}
