using LLama.Native;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>
/// The same f32 GGUF quantised by llama.cpp's own quantizer (llama_model_quantize, no importance matrix) and converted
/// by vib3 with the matching --dtype: every tensor gets the type llama.cpp gave it and vib3's stored pages hold exactly
/// llama.cpp's bytes for it — routed experts included, whose down matrices get their own type per layer (Q6_K in the
/// "more bits" layers of Q4_K_M, Q3_K under Q2_K …). The model has four layers, so the "more bits" layers of the mixes
/// (2 and 3) and the others both occur.
/// </summary>
public sealed class LlamaCppMixBytesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-mix-bytes-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>(dtype, family, experts, width, expert hidden): width 256 lets every K type apply; width 64 (expert
    /// hidden 96) makes every K type fall back (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0 …) as llama.cpp's
    /// tensor_type_fallback does; width 256 with expert hidden 96 keeps gate/up K-quants while down falls back.</summary>
    public static TheoryData<string, ModelFamily, int, int, int> Cases() => new()
    {
        { "q4_k_m", ModelFamily.Mixtral, 4, 256, 256 },
        { "q4_k_m", ModelFamily.Mixtral, 8, 256, 256 }, // exactly 8 experts: attn_v/attn_k Q8_0, attn_output Q5_K
        { "q4_k_m", ModelFamily.Qwen2Moe, 4, 256, 256 }, // shared experts: a dense ffn_down_shexp follows the ffn_down rules
        { "q4_k_s", ModelFamily.Mixtral, 4, 256, 256 },
        { "q5_k_m", ModelFamily.Mixtral, 4, 256, 256 },
        { "q3_k_m", ModelFamily.Mixtral, 4, 256, 256 },
        { "q2_k", ModelFamily.Mixtral, 4, 256, 256 },
        { "iq4_xs", ModelFamily.Mixtral, 4, 256, 256 }, // llama.cpp's IQ4_XS is a mix too: output Q6_K
        { "iq4_xs", ModelFamily.Mixtral, 8, 256, 256 },
        { "q6_k", ModelFamily.Mixtral, 4, 256, 256 },
        { "q8_0", ModelFamily.Mixtral, 4, 256, 256 },
        { "q4_k_m", ModelFamily.Mixtral, 4, 64, 96 },
        { "q5_k_m", ModelFamily.Mixtral, 4, 64, 96 },
        { "q2_k", ModelFamily.Mixtral, 4, 64, 96 },
        { "q4_k_m", ModelFamily.Mixtral, 4, 256, 96 }, // gate/up Q4_K, down Q5_0 or (more bits) Q8_0
        { "q3_k_m", ModelFamily.Mixtral, 4, 256, 96 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vib3_writes_the_bytes_llama_cpp_writes(string dtype, ModelFamily family, int experts, int width, int expertHidden)
    {
        Directory.CreateDirectory(_dir);
        var f32 = Path.Combine(_dir, "model.gguf");
        var spec = new SyntheticModelSpec
        {
            Family = family, Layers = 4, Dim = width, ExpertHidden = expertHidden, SharedExpertHidden = width, Heads = 4, KvHeads = 2,
            Experts = experts, TopK = 2, Vocab = 320, Context = 128, Seed = 13, DType = DType.F32,
        };
        SyntheticModelGenerator.WriteGguf(spec, f32);
        var quantised = Path.Combine(_dir, $"model.{dtype}.gguf");
        LlamaCppQuantizer.Quantize(f32, quantised, FileType(dtype), quantizeOutput: true);
        var llama = GgufTensorTable.Open(quantised);

        var catalog = new ModelCatalog(Path.Combine(_dir, "data"));
        var mix = LlamaCppMix.TryParse(dtype, out var m) ? m : null;
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(
            new ConversionRequest(f32, "m", mix is null ? DTypes.Parse(dtype) : null, Mix: mix));
        using var store = PageStore.Open(catalog.ModelDir("m"), "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        Assert.Equal(dtype, manifest.Quantization);

        var compared = 0;
        foreach (var t in manifest.Tensors)
        {
            var source = llama.Tensors[t.SourceName];
            Assert.True(TypeName(source.GgmlType) == t.DType, $"{dtype}: {t.SourceName} is {TypeName(source.GgmlType)} in llama.cpp's file, {t.DType} in vib3's");
            var stored = Concatenate(store, t.FirstPage, t.PageCount);
            AssertSameBytes(llama.Read(t.SourceName, 0, stored.Length), stored, $"{dtype} {t.SourceName}");
            compared++;
        }
        foreach (var g in manifest.ExpertGrids)
            compared += CompareExperts(llama, store, g, dtype);
        Assert.True(compared > 4 * spec.Layers, $"{dtype}: only {compared} tensors compared");
    }

    /// <summary>Gate and up rows and down columns of every bundle against llama.cpp's stacked expert tensors.</summary>
    private static int CompareExperts(GgufTensorTable llama, PageStore store, ExpertGridEntry g, string dtype)
    {
        var (type, downType) = (g.GateUpType(), g.DownType());
        var gate = $"blk.{g.Layer}.ffn_gate_exps.weight";
        var up = $"blk.{g.Layer}.ffn_up_exps.weight";
        var down = $"blk.{g.Layer}.ffn_down_exps.weight";
        Assert.Equal(TypeName(llama.Tensors[gate].GgmlType), type.Name());
        Assert.Equal(TypeName(llama.Tensors[up].GgmlType), type.Name());
        Assert.True(TypeName(llama.Tensors[down].GgmlType) == downType.Name(),
            $"{dtype}: {down} is {TypeName(llama.Tensors[down].GgmlType)} in llama.cpp's file, {downType.Name()} in vib3's");
        var rowBytes = type.ByteCount(g.Dim);
        var downRowBytes = downType.ByteCount(g.ExpertHidden);
        for (var e = 0; e < g.Experts; e++)
            for (var b = 0; b < g.BundlesPerExpert; b++)
            {
                var r = g.RowsInBundle(b);
                var page = Concatenate(store, g.PageOf(e, b), 1);
                var rowsBytes = (int)type.ByteCount((long)r * g.Dim);
                var first = ((long)e * g.ExpertHidden + (long)b * g.BundleRows) * rowBytes;
                var what = $"{dtype} layer {g.Layer} expert {e} bundle {b}";
                AssertSameBytes(llama.Read(gate, first, rowsBytes), page.AsSpan(0, rowsBytes), what + " gate");
                AssertSameBytes(llama.Read(up, first, rowsBytes), page.AsSpan(rowsBytes, rowsBytes), what + " up");
                var slice = (int)downType.ByteCount(r);
                Assert.Equal(2 * rowsBytes + g.Dim * slice, page.Length);
                for (var i = 0; i < g.Dim; i++)
                {
                    var offset = ((long)e * g.Dim + i) * downRowBytes + downType.ByteCount((long)b * g.BundleRows);
                    AssertSameBytes(llama.Read(down, offset, slice), page.AsSpan(2 * rowsBytes + i * slice, slice), $"{what} down row {i}");
                }
            }
        return 3;
    }

    private static byte[] Concatenate(PageStore store, int firstPage, int count)
    {
        var bytes = new List<byte>();
        for (var p = firstPage; p < firstPage + count; p++)
        {
            using var lease = store.ReadAsync(p).AsTask().GetAwaiter().GetResult();
            bytes.AddRange(lease.Memory.ToArray());
        }
        return [.. bytes];
    }

    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} bytes stored, llama.cpp wrote {expected.Length}");
        var i = expected.CommonPrefixLength(actual);
        Assert.True(i == expected.Length, $"{what}: byte {i} is {(i < actual.Length ? actual[i] : -1)}, llama.cpp wrote {(i < expected.Length ? expected[i] : -1)}");
    }

    private static string TypeName(uint ggmlType) => GgmlTypes.Name(ggmlType).ToLowerInvariant();

    private static LLamaFtype FileType(string dtype) => dtype switch
    {
        "q4_k_m" => LLamaFtype.MOSTLY_Q4_K_M,
        "q4_k_s" => LLamaFtype.MOSTLY_Q4_K_S,
        "q5_k_m" => LLamaFtype.MOSTLY_Q5_K_M,
        "q3_k_m" => LLamaFtype.MOSTLY_Q3_K_M,
        "q2_k" => LLamaFtype.MOSTLY_Q2_K,
        "iq4_xs" => LLamaFtype.MOSTLY_IQ4_XS,
        "q6_k" => LLamaFtype.MOSTLY_Q6_K,
        "q8_0" => LLamaFtype.MOSTLY_Q8_0,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public void Dispose()
    {
        try { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
