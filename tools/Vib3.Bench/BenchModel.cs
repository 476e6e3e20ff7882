using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>A benchmark's synthetic model written as a GGUF under a fresh folder and converted into a catalog there as
/// "bench": the same weights for vib3 and llama.cpp, in one of <see cref="BenchShapes"/>.</summary>
internal sealed record BenchModel(SyntheticModelSpec Spec, string Gguf, ModelCatalog Catalog, ModelManifest Manifest)
{
    public static BenchModel Create(string root, DType dtype, int layers) => Create(root, BenchShapes.Mixtral(dtype, layers));

    /// <summary>The types the synthetic generator writes itself (no f32 intermediate: a 40-layer Kimi-shaped q8_0 file
    /// is 14.6 GB, its f32 source would be 55 GB).</summary>
    private static readonly DType[] WrittenDirectly = [DType.F32, DType.F16, DType.BF16, DType.Q8_0];

    /// <summary>A model by the name a benchmark's --dtype gives: f32, f16, bf16 and q8_0 are written by the synthetic
    /// generator; any other llama-quantize level (q4_k_m, q6_k, q2_k, ...) is made by llama.cpp's quantizer from the f32
    /// file, as <see cref="Create(string, SyntheticModelSpec, QuantLevel?)"/> does.</summary>
    public static BenchModel CreateNamed(string root, SyntheticModelSpec spec, string name) =>
        DTypes.TryParse(name, out var dtype) && WrittenDirectly.Contains(dtype)
            ? Create(root, spec with { DType = dtype })
            : Create(root, spec with { DType = DType.F32 }, QuantLevel.Parse(name));

    /// <summary>Any shape through the same write-and-convert path (vib3-bench tiers uses a tiny one to measure what the
    /// engines' runtimes hold apart from the weights). With a <paramref name="level"/> that llama.cpp makes, the shape
    /// is written in f32 and llama.cpp's own quantizer makes the file both engines run (output tensor included, as
    /// llama-quantize does): the files people download, mixes such as Q4_K_M included.</summary>
    public static BenchModel Create(string root, SyntheticModelSpec spec, QuantLevel? level = null)
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        if (level?.Ftype is { } ftype)
        {
            var f32 = Path.Combine(root, $"{spec.Family.ToString().ToLowerInvariant()}-f32.gguf");
            Console.WriteLine($"[{level.Name}] writing {f32} ...");
            SyntheticModelGenerator.WriteGguf(spec with { DType = DType.F32 }, f32);
            var quantised = Path.Combine(root, $"{spec.Family.ToString().ToLowerInvariant()}-{level.Name}.gguf");
            Console.WriteLine($"[{level.Name}] llama.cpp quantising to {quantised} ...");
            LlamaCppQuantizer.Quantize(f32, quantised, ftype, Environment.ProcessorCount, quantizeOutput: true);
            File.Delete(f32);
            return Convert(root, spec, quantised);
        }
        var dtype = spec.DType;
        var gguf = Path.Combine(root, $"{spec.Family.ToString().ToLowerInvariant()}-{dtype.Name()}.gguf");
        Console.WriteLine($"[{dtype.Name()}] writing {gguf} ...");
        SyntheticModelGenerator.WriteGguf(spec, gguf);
        return Convert(root, spec, gguf);
    }

    private static BenchModel Convert(string root, SyntheticModelSpec spec, string gguf)
    {
        var catalog = new ModelCatalog(Path.Combine(root, "data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(gguf, "bench"));
        return new BenchModel(spec, gguf, catalog, manifest);
    }
}
