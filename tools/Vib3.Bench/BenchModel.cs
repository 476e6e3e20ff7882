using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>The forward-pass issue's Mixtral-shaped synthetic model (d 1024, expert hidden 2816, 16/4 heads, 8 experts
/// top-2, vocab 32000; ~2.5 GB at f32 with 8 layers), written as a GGUF under a fresh folder and converted into a
/// catalog there as "bench": the same weights for vib3 and llama.cpp.</summary>
internal sealed record MixtralBenchModel(SyntheticModelSpec Spec, string Gguf, ModelCatalog Catalog, ModelManifest Manifest)
{
    public static MixtralBenchModel Create(string root, DType dtype, int layers) =>
        Create(root, new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = layers, Dim = 1024, ExpertHidden = 2816, Heads = 16, KvHeads = 4,
            Experts = 8, TopK = 2, Vocab = 32000, Context = 2048, Seed = 1, DType = dtype,
        });

    /// <summary>Any other shape through the same write-and-convert path (vib3-bench tiers uses a tiny one to
    /// measure what the engines' runtimes hold apart from the weights).</summary>
    public static MixtralBenchModel Create(string root, SyntheticModelSpec spec)
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        var dtype = spec.DType;
        var gguf = Path.Combine(root, $"mixtral-{dtype.Name()}.gguf");
        Console.WriteLine($"[{dtype.Name()}] writing {gguf} ...");
        SyntheticModelGenerator.WriteGguf(spec, gguf);
        var catalog = new ModelCatalog(Path.Combine(root, "data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(gguf, "bench"));
        return new MixtralBenchModel(spec, gguf, catalog, manifest);
    }
}
