using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Export;

/// <summary>Writes a GGUF v3 file (architecture "llama" with experts, as llama.cpp names Mixtral) holding the
/// weights of a Hugging Face Mixtral folder: the tensor layout and hyperparameter keys of vib3-synth's Mixtral
/// GGUFs (which vib3 and llama.cpp both load), the HF tokenizer as a "gpt2" vocab.</summary>
public static class GgufExport
{
    /// <summary>Exports <paramref name="hfFolder"/> to <paramref name="ggufPath"/>. <paramref name="storeAs"/>
    /// is the matrices' element type (null: the checkpoint's own, bit for bit); norms and the router are F32
    /// as llama.cpp's converter keeps them, an exact widening of bf16/f16. Returns the spec written.</summary>
    public static SyntheticModelSpec Export(string hfFolder, string ggufPath, DType? storeAs = null)
    {
        using var ckpt = SafetensorsCheckpoint.Open(hfFolder);
        var spec = MixtralShape.FromHfConfig(hfFolder, storeAs ?? SourceType(ckpt));
        var expected = SyntheticModelGenerator.HfTensors(spec).ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in ckpt.Tensors.Values)
        {
            if (!expected.TryGetValue(t.Name, out var e))
                throw new Vib3Exception(SqlState.FeatureNotSupported, $"{hfFolder}: tensor '{t.Name}' has no place in a Mixtral GGUF");
            if (!t.Shape.SequenceEqual(e.Shape))
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"{hfFolder}: tensor '{t.Name}' is {t.ShapeText}, config.json implies [{string.Join(", ", e.Shape)}]");
        }
        var missing = expected.Keys.Where(n => !ckpt.Tensors.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new Vib3Exception(SqlState.UndefinedObject, $"{hfFolder}: missing tensors {string.Join(", ", missing.Take(5))}");

        var w = new GgufWriter();
        SyntheticModelGenerator.AddGgufHyperparameters(spec, w, Path.GetFileName(Path.GetFullPath(hfFolder).TrimEnd('/')));
        GgufTokenizerKeys.Add(w, hfFolder, spec.Vocab);
        foreach (var t in SyntheticModelGenerator.GgufTensors(spec))
            w.AddTensor(t.Name, t.DType, t.Shape, s => WriteTensor(ckpt, t, s));
        w.Write(ggufPath);
        return spec;
    }

    /// <summary>The type of the checkpoint's matrices (the embedding's): what "keep the source" means.</summary>
    private static DType SourceType(SafetensorsCheckpoint ckpt) =>
        ckpt.Tensors.TryGetValue("model.embed_tokens.weight", out var e) ? e.DType
            : throw new Vib3Exception(SqlState.UndefinedObject, $"{ckpt.Path}: no model.embed_tokens.weight");

    /// <summary>Streams one GGUF tensor: its HF sources in order (experts stacked), each converted to the stored
    /// type and, for Q and K, rows reordered for llama.cpp's interleaved RoPE. One source at a time in memory.</summary>
    private static void WriteTensor(SafetensorsCheckpoint ckpt, SyntheticGgufTensor t, Stream output)
    {
        foreach (var name in t.Sources)
        {
            var src = ckpt.Tensors[name];
            var raw = new byte[src.ByteLength];
            ckpt.Read(src, 0, raw);
            var bytes = raw;
            if (src.DType != t.DType)
            {
                var values = new float[src.ElementCount];
                DTypeConvert.ToF32(src.DType, raw, values);
                bytes = new byte[t.DType.ByteCount(values.Length)];
                DTypeConvert.FromF32(t.DType, values, bytes);
            }
            if (t.PermuteHeads > 0)
            {
                int rows = (int)src.Shape[0], rowBytes = (int)t.DType.ByteCount(src.Shape[1]);
                var permuted = new byte[bytes.Length];
                LlamaQkPermutation.Permute<byte>(bytes, permuted, rows, rowBytes, t.PermuteHeads);
                bytes = permuted;
            }
            output.Write(bytes);
        }
    }
}
