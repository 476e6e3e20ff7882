using LLama.Native;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>llama.cpp's mixes convert without re-quantisation: every tensor and every expert matrix read back through
/// the page store is the GGUF's bytes, bit for bit, in its own type — including the down matrices a mix keeps in a
/// wider type than their layer's gate and up (Q4_K_M: Q6_K; Q2_K: Q3_K).</summary>
public sealed class KQuantRoundTripTests
{
    [Theory]
    [InlineData("Q4_K_M")]
    [InlineData("Q2_K")]
    public async Task Mixed_file_reads_back_bit_for_bit(string file)
    {
        var ftype = file == "Q2_K" ? LLamaFtype.MOSTLY_Q2_K : LLamaFtype.MOSTLY_Q4_K_M;
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256, SharedExpertHidden = 256 };
        using var f = new ModelFixture(spec, "gguf", rewrite: f32 =>
        {
            var output = Path.ChangeExtension(f32, $"{file}.gguf");
            LlamaCppQuantizer.Quantize(f32, output, ftype);
            return output;
        });
        using var model = StoredModel.Open(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 1 << 20 });
        using var reader = GgufCheckpoint.Open(f.SourcePath);
        Assert.Contains(model.Manifest.ExpertGrids, g => g.DownDType is not null);

        foreach (var t in model.Manifest.Tensors)
        {
            var source = reader.Tensors[t.SourceName];
            Assert.Equal(source.DType.Name(), t.DType);
            var stored = await model.ReadTensorAsync(t.Name);
            Assert.True(Bytes(reader, source, 0, source.ByteLength).SequenceEqual(stored), $"{file} {t.Name}");
        }
        var experts = DescriptorCatalog.LoadDefault().Families.Single(d => d.Family == model.Manifest.Family).Experts;
        foreach (var g in model.Manifest.ExpertGrids)
            foreach (var (kind, pattern) in new[] { (ExpertMatrixKind.Gate, experts.Gate), (ExpertMatrixKind.Up, experts.Up), (ExpertMatrixKind.Down, experts.Down) })
            {
                var source = reader.Tensors[pattern.Gguf.Replace("{l}", g.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                Assert.Equal((kind == ExpertMatrixKind.Down ? g.DownType() : g.GateUpType()), source.DType);
                var perExpert = source.ByteLength / g.Experts;
                for (var e = 0; e < g.Experts; e++)
                {
                    var stored = await model.ReadExpertMatrixAsync(g.Layer, e, kind);
                    Assert.True(Bytes(reader, source, e * perExpert, perExpert).SequenceEqual(stored),
                        $"{file} layer {g.Layer} expert {e} {kind} ({source.DType.Name()})");
                }
            }
    }

    private static byte[] Bytes(GgufCheckpoint reader, SourceTensor t, long offset, long length)
    {
        var bytes = new byte[length];
        reader.Read(t, offset, bytes);
        return bytes;
    }
}
