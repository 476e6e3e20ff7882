using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>Tiny synthetic GGUF files (dim 64, 2 layers, vocab 320), written once per test class into a
/// temporary folder and deleted with it.</summary>
public sealed class LlamaCppSyntheticFiles : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ModelFamily, DType), string> _files = [];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-llamacpp-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>llama.cpp's olmoe loader sizes attn_k_norm as {n_embd}, so it only loads OLMoE files whose
    /// kv heads equal the heads (as the real OLMoE has); the other families keep grouped-query attention.</summary>
    public static SyntheticModelSpec Spec(ModelFamily family, DType dtype) => new()
    {
        Family = family,
        DType = dtype,
        Layers = 2,
        Dim = 64,
        ExpertHidden = 64,
        Heads = 4,
        KvHeads = family == ModelFamily.Olmoe ? 4 : 2,
        Experts = 4,
        TopK = 2,
        Vocab = 320,
        Context = 256,
        Seed = 7,
    };

    public string File(ModelFamily family, DType dtype)
    {
        lock (_gate)
        {
            if (_files.TryGetValue((family, dtype), out var file)) return file;
            Directory.CreateDirectory(_dir);
            file = Path.Combine(_dir, $"{family}-{dtype}.gguf".ToLowerInvariant());
            SyntheticModelGenerator.WriteGguf(Spec(family, dtype), file);
            _files[(family, dtype)] = file;
            return file;
        }
    }

    public string Folder => _dir;

    public void Dispose()
    {
        try { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
