using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests;

/// <summary>A synthetic checkpoint written to a temp folder and converted into a temp catalog.</summary>
public sealed class ModelFixture : IDisposable
{
    /// <param name="rewrite">Makes the file vib3 converts from the synthetic one (e.g. llama.cpp's quantizer);
    /// returns its path. <see cref="SourcePath"/> is then that file.</param>
    public ModelFixture(SyntheticModelSpec spec, string format, DType? storeAs = null, int? pageRows = null, Func<string, string>? rewrite = null)
    {
        Dir = Path.Combine(Path.GetTempPath(), "vib3-models-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        Spec = spec;
        if (format == "gguf")
        {
            SourcePath = Path.Combine(Dir, "model.gguf");
            SyntheticModelGenerator.WriteGguf(spec, SourcePath);
        }
        else
        {
            SourcePath = Path.Combine(Dir, "hf");
            SyntheticModelGenerator.WriteHf(spec, SourcePath);
        }
        if (rewrite is not null) SourcePath = rewrite(SourcePath);
        Catalog = new ModelCatalog(Path.Combine(Dir, "data"));
        Manifest = new ModelConverter(Catalog, DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(SourcePath, "m", storeAs, pageRows));
    }

    public string Dir { get; }

    public SyntheticModelSpec Spec { get; }

    public string SourcePath { get; }

    public ModelCatalog Catalog { get; }

    public ModelManifest Manifest { get; }

    /// <summary>GQA except for OLMoE, whose llama.cpp loader wants its k norm [dim] wide (kv heads = heads).</summary>
    public static SyntheticModelSpec Small(ModelFamily family, DType dtype) => new()
    {
        Family = family, Layers = 2, Dim = 64, ExpertHidden = 96, Heads = 4, KvHeads = family == ModelFamily.Olmoe ? 4 : 2,
        Experts = 4, TopK = 2,
        Vocab = 320, Context = 128, Seed = 11, DType = dtype, SharedExpertHidden = 64,
    };

    /// <summary>Deterministic token ids spread over the vocabulary.</summary>
    public static int[] Tokens(int count, int vocab, int seed = 5)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => r.Next(3, vocab)).ToArray();
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}
