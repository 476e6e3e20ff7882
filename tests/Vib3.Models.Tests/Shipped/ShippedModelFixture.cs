using System.Buffers.Binary;
using System.Text.Json;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Export;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Shipped;

/// <summary>The shipped checkpoint (catalog/models/vib3-moe, copied next to the test assembly by the csproj)
/// converted into a temp catalog as "hf", exported to GGUF with vib3-export's code (bf16 as shipped, and f32)
/// and the bf16 file converted as "gguf"; plus transformers' reference logits (docs/training/ref_*).</summary>
public sealed class ShippedModelFixture : IDisposable
{
    public static readonly string CheckpointDir = Path.Combine(AppContext.BaseDirectory, "vib3-moe");
    public static readonly string TrainingDir = Path.Combine(AppContext.BaseDirectory, "training");

    public ShippedModelFixture()
    {
        Dir = Path.Combine(Path.GetTempPath(), "vib3-shipped-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        Catalog = new ModelCatalog(Path.Combine(Dir, "data"));
        var converter = new ModelConverter(Catalog, DescriptorCatalog.LoadDefault());
        converter.Convert(new ConversionRequest(CheckpointDir, "hf", null, null));
        GgufBf16 = Path.Combine(Dir, "vib3-moe.gguf");
        GgufExport.Export(CheckpointDir, GgufBf16);
        GgufF32 = Path.Combine(Dir, "vib3-moe-f32.gguf");
        GgufExport.Export(CheckpointDir, GgufF32, DType.F32);
        converter.Convert(new ConversionRequest(GgufBf16, "gguf", null, null));
        (Tokens, Text) = ReadTokens(Path.Combine(TrainingDir, "ref_tokens.json"));
        ReferenceLogits = ReadLogits(Path.Combine(TrainingDir, "ref_logits.safetensors"), Tokens.Length);
    }

    public string Dir { get; }
    public ModelCatalog Catalog { get; }

    /// <summary>The export with the checkpoint's own bf16 matrices.</summary>
    public string GgufBf16 { get; }

    /// <summary>The export widened to f32 (the same values): llama.cpp rounds activations to bf16 before a
    /// product with bf16 weights, so only this file lets it compute what vib3 and transformers compute.</summary>
    public string GgufF32 { get; }

    /// <summary>The reference token ids (BOS first) and the text they encode.</summary>
    public int[] Tokens { get; }
    public string Text { get; }

    /// <summary>transformers' float32 logits, [position][vocab].</summary>
    public float[][] ReferenceLogits { get; }

    public async Task<float[][]> Vib3Logits(string model)
    {
        using var pass = await SequencePass.OpenAsync(Catalog, model, new PageStoreOptions { RamBudgetBytes = 256 << 20 });
        return await pass.LogitsAsync(Tokens, allPositions: true);
    }

    private static (int[] Tokens, string Text) ReadTokens(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var ids = doc.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return (ids, doc.RootElement.GetProperty("text").GetString()!);
    }

    /// <summary>The F32 "logits" tensor of ref_logits.safetensors. Read by hand: the file also holds the I64
    /// input_ids, a dtype vib3's safetensors reader (rightly, for weights) refuses.</summary>
    private static float[][] ReadLogits(string path, int positions)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var t = header.RootElement.GetProperty("logits");
        Assert.Equal("F32", t.GetProperty("dtype").GetString());
        var vocab = t.GetProperty("shape")[1].GetInt32();
        Assert.Equal(positions, t.GetProperty("shape")[0].GetInt32());
        var start = 8 + headerLength + t.GetProperty("data_offsets")[0].GetInt32();
        var rows = new float[positions][];
        for (var p = 0; p < positions; p++)
            rows[p] = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(start + p * vocab * 4, vocab * 4)).ToArray();
        return rows;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}
