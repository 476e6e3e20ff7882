using System.Text.Json;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Export;

/// <summary>The tokenizer.ggml.* keys for a Hugging Face byte-level BPE tokenizer (tokenizer.json plus
/// tokenizer_config.json), written as llama.cpp's convert_hf_to_gguf.py writes a "gpt2" vocab, so llama.cpp
/// tokenizes and detokenizes as the HF tokenizer does.</summary>
public static class GgufTokenizerKeys
{
    /// <summary>llama.cpp's pre-tokenizer name for GPT-2's regex ('s|'t|...| ?\p{L}+| ?\p{N}+|...), which HF's
    /// ByteLevel pre-tokenizer with use_regex applies. "default" would not do: llama.cpp gives it a different
    /// list of regexes (punctuation runs and 3-digit groups split first; src/llama-vocab.cpp).</summary>
    public const string Gpt2Pre = "gpt-2";

    /// <summary>llama.cpp token types (enum llama_token_type).</summary>
    public const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>Adds the keys for the tokenizer in <paramref name="folder"/>; the token list is padded with
    /// unused [PADn] entries up to <paramref name="vocabSize"/> (the embedding's rows), as the converter does.</summary>
    public static void Add(GgufWriter w, string folder, int vocabSize)
    {
        var path = Path.Combine(folder, "tokenizer.json");
        using var doc = ReadJson(path) ?? throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: missing");
        using var config = ReadJson(Path.Combine(folder, "tokenizer_config.json"));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
            throw Unsupported(path, "the model is not BPE");
        CheckByteLevel(path, root);

        var tokens = new string?[vocabSize];
        var types = new int[vocabSize];
        void Put(string text, int id, int type)
        {
            if ((uint)id >= (uint)vocabSize)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{path}: token '{text}' has id {id}, outside the model's {vocabSize} rows");
            tokens[id] = text;
            types[id] = type;
        }
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) Put(p.Name, p.Value.GetInt32(), Normal);
        if (root.TryGetProperty("added_tokens", out var added))
            foreach (var a in added.EnumerateArray())
                Put(a.GetProperty("content").GetString()!, a.GetProperty("id").GetInt32(),
                    a.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True ? Control : UserDefined);
        for (var id = 0; id < vocabSize; id++)
            if (tokens[id] is null) { tokens[id] = $"[PAD{id}]"; types[id] = Unused; }

        var merges = new List<string>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
            merges.Add(m.ValueKind == JsonValueKind.Array ? m[0].GetString() + " " + m[1].GetString() : m.GetString()!);

        w.AddString("tokenizer.ggml.model", "gpt2");
        w.AddString("tokenizer.ggml.pre", Gpt2Pre);
        w.AddStringArray("tokenizer.ggml.tokens", tokens!);
        w.AddInt32Array("tokenizer.ggml.token_type", types);
        w.AddStringArray("tokenizer.ggml.merges", merges);
        AddId(w, "tokenizer.ggml.bos_token_id", tokens, SpecialText(config, "bos_token"));
        AddId(w, "tokenizer.ggml.eos_token_id", tokens, SpecialText(config, "eos_token"));
        AddId(w, "tokenizer.ggml.unknown_token_id", tokens, SpecialText(config, "unk_token"));
        AddId(w, "tokenizer.ggml.padding_token_id", tokens, SpecialText(config, "pad_token"));
        w.AddBool("tokenizer.ggml.add_bos_token", Flag(config, "add_bos_token"));
        w.AddBool("tokenizer.ggml.add_eos_token", Flag(config, "add_eos_token"));
    }

    /// <summary>llama.cpp's "gpt-2" pre-tokenizer is GPT-2's regex with no prefix space; refuse what it
    /// would tokenize differently rather than write a file that silently disagrees with the HF tokenizer.</summary>
    private static void CheckByteLevel(string path, JsonElement root)
    {
        if (root.TryGetProperty("normalizer", out var n) && n.ValueKind != JsonValueKind.Null)
            throw Unsupported(path, "a normalizer is set");
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object ||
            pre.GetProperty("type").GetString() != "ByteLevel")
            throw Unsupported(path, "the pre-tokenizer is not a single ByteLevel step");
        if (pre.TryGetProperty("use_regex", out var r) && r.ValueKind == JsonValueKind.False)
            throw Unsupported(path, "the ByteLevel pre-tokenizer does not use GPT-2's regex");
        if (pre.TryGetProperty("add_prefix_space", out var s) && s.ValueKind == JsonValueKind.True)
            throw Unsupported(path, "the ByteLevel pre-tokenizer adds a prefix space");
    }

    private static void AddId(GgufWriter w, string key, string?[] tokens, string? text)
    {
        if (text is null) return;
        var id = Array.IndexOf(tokens, text);
        if (id < 0) throw new Vib3Exception(SqlState.InvalidParameterValue, $"tokenizer: '{text}' ({key}) is not in the vocabulary");
        w.AddUInt32(key, (uint)id);
    }

    /// <summary>tokenizer_config.json names special tokens as a string or as {"content": ...}.</summary>
    private static string? SpecialText(JsonDocument? config, string key)
    {
        if (config is null || !config.RootElement.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        };
    }

    private static bool Flag(JsonDocument? config, string key) =>
        config is not null && config.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;

    private static JsonDocument? ReadJson(string path) => File.Exists(path) ? JsonDocument.Parse(File.ReadAllBytes(path)) : null;

    private static Vib3Exception Unsupported(string path, string why) =>
        new(SqlState.FeatureNotSupported, $"{path}: {why}; llama.cpp's \"{Gpt2Pre}\" tokenizer would not match it");
}
