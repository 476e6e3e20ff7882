using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.DeviceCheck;

/// <summary>A synthetic checkpoint converted by vib3 as "m" into a catalog of its own, stored as
/// <paramref name="Storage"/>: f32, f16, bf16 or q8_0 written by the generator as a GGUF of that type (converted as it
/// is: a quarter of the bytes an f32 source would take for q8_0), or one of llama.cpp's mixes (q4_k_m, ...), which
/// vib3's converter makes from an f32 GGUF with llama.cpp's per-tensor rules.</summary>
internal sealed record CheckModel(string Storage, ModelCatalog Catalog, ModelManifest Manifest)
{
    private static readonly DType[] WrittenDirectly = [DType.F32, DType.F16, DType.BF16, DType.Q8_0];

    public static CheckModel Create(string root, SyntheticModelSpec spec, string storage)
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        var source = Path.Combine(root, "source.gguf");
        var catalog = new ModelCatalog(Path.Combine(root, "data"));
        ConversionRequest request;
        if (LlamaCppMix.TryParse(storage, out var mix))
        {
            SyntheticModelGenerator.WriteGguf(spec with { DType = DType.F32 }, source);
            request = new ConversionRequest(source, "m", Mix: mix);
        }
        else
        {
            var dtype = DTypes.Parse(storage);
            if (!WrittenDirectly.Contains(dtype)) throw new ArgumentException($"storage {storage}: expected one of f32, f16, bf16, q8_0 or a llama.cpp mix ({LlamaCppMix.Names})");
            SyntheticModelGenerator.WriteGguf(spec with { DType = dtype }, source);
            request = new ConversionRequest(source, "m");
        }
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(request);
        File.Delete(source);
        return new CheckModel(storage, catalog, manifest);
    }

    /// <summary>Bytes of the model's pages.</summary>
    public long Bytes => Manifest.PageBytes;
}
