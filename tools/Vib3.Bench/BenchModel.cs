using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>A benchmark's synthetic model written as a GGUF under a fresh folder and converted into a catalog there as
/// "bench": the same weights for vib3 and llama.cpp. Two shapes: the forward-pass issue's Mixtral (d 1024, expert hidden
/// 2816, 16/4 heads, 8 experts top-2, vocab 32000; ~2.5 GB at f32 with 8 layers) and a Kimi-K2-shaped deepseek2.</summary>
internal sealed record BenchModel(SyntheticModelSpec Spec, string Gguf, ModelCatalog Catalog, ModelManifest Manifest)
{
    public static SyntheticModelSpec Mixtral(DType dtype, int layers) => new()
    {
        Family = ModelFamily.Mixtral, Layers = layers, Dim = 1024, ExpertHidden = 2816, Heads = 16, KvHeads = 4,
        Experts = 8, TopK = 2, Vocab = 32000, Context = 2048, Seed = 1, DType = dtype,
    };

    /// <summary>Kimi K2's routing and attention layout — 384 experts top-8 plus one shared, the first layer dense,
    /// 64 heads of MLA with q rank 1536, kv rank 512, nope 128 + rope 64, v 128, sigmoid scores, weights ×2.827, YaRN ×32
    /// from 4096 — with the widths scaled down (hidden 1024 for 7168, expert hidden 256 for 2048, dense FFN 2560 for
    /// 18432, vocab 32000 for 163840) so that 40 layers of q8_0 make ~14.6 GB. Routing is spread over the experts as in a
    /// trained model (the real selection bias exists to balance the load): no random selection bias, which would outweigh
    /// random router logits, and embeddings ×100, without which random attention outputs (after MLA's normalised latents)
    /// swamp each token's own direction and every token picks the same few experts (measured: one expert in 50 of 62
    /// tokens; with these settings at most 6 of 62).</summary>
    public static SyntheticModelSpec KimiShaped(DType dtype, int layers) => new()
    {
        Family = ModelFamily.Deepseek2, Layers = layers, Dim = 1024, Heads = 64, ExpertHidden = 256, Experts = 384, TopK = 8,
        SharedExperts = 1, LeadingDenseLayers = 1, DenseHidden = 2560, ScoreBias = false, EmbeddingScale = 100, QLoraRank = 1536, KvLoraRank = 512,
        QkNopeHeadDim = 128, QkRopeHeadDim = 64, VHeadDim = 128, RoutedScale = 2.827, RopeTheta = 50_000,
        YarnFactor = 32, YarnOriginalContext = 4096, MscaleAllDim = 1, Vocab = 32000, Context = 131_072, Seed = 1, DType = dtype,
    };

    public static SyntheticModelSpec ForShape(string shape, DType dtype, int layers) => shape switch
    {
        "mixtral" => Mixtral(dtype, layers),
        "kimi" => KimiShaped(dtype, layers),
        _ => throw new ArgumentException($"unknown model shape '{shape}' (mixtral or kimi)"),
    };

    public static BenchModel Create(string root, DType dtype, int layers) => Create(root, Mixtral(dtype, layers));

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
