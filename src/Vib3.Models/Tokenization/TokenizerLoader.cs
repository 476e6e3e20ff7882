using System.Text.Json;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tokenization;

/// <summary>Opens a stored model's tokenizer (&lt;store&gt;/tokenizer/, written by Vib3.Convert.TokenizerExport).
/// Kind "hf": tokenizer.json with a byte-level BPE model, else tokenizer.model (SentencePiece), else a tokenizer.json
/// BPE/Unigram model in SentencePiece style (Metaspace, byte fallback), rebuilt as a SentencePiece model; with no
/// tokenizer.json, a tiktoken.model (Kimi K2) is read by <see cref="LoadTiktoken"/>.
/// Kind "gguf": gguf-tokenizer.json with tokenizer.ggml.model "gpt2" (byte-level BPE) or "llama" (SentencePiece).</summary>
public static partial class TokenizerLoader
{
    public const string GgufFileName = "gguf-tokenizer.json";

    /// <summary>The most token ids a tokenizer may have when the model's vocabulary is not given (real ones have up to
    /// ~262 k): an id is refused, not a list grown up to it, so a tokenizer.json naming id 2147483647 cannot make vib3
    /// allocate gigabytes.</summary>
    public const int MaxVocabSize = 1 << 22;

    /// <summary>Texts of tokens that end a turn in the families vib3 runs, besides the declared eos.</summary>
    public static readonly IReadOnlyList<string> EndOfGenerationTexts =
    [
        "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>",
        "<|EOT|>", "<｜end▁of▁sentence｜>", "</s>", "<|return|>",
    ];

    /// <param name="modelVocab">The model's vocabulary (embedding rows): every token id must be below it. Null: below
    /// <see cref="MaxVocabSize"/>.</param>
    public static ITextTokenizer Load(string tokenizerDir, TokenizerInfo info, int? modelVocab = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        try
        {
            return info.Kind switch
            {
                "hf" => LoadHf(tokenizerDir, modelVocab),
                "gguf" => LoadGguf(Path.Combine(tokenizerDir, GgufFileName), modelVocab),
                _ => throw new Vib3Exception(SqlState.FeatureNotSupported, $"tokenizer kind '{info.Kind}' is not supported"),
            };
        }
        // Wrongly typed JSON (InvalidOperationException, FormatException), missing keys, and what the tokenizer
        // libraries throw for a vocabulary they cannot build from (ArgumentException: a null or repeated entry).
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException
                                      or FormatException or ArgumentException)
        {
            throw new Vib3Exception(SqlState.DataCorrupted, $"{tokenizerDir}: cannot read the tokenizer: {UntrustedText.Shown(e.Message, 200)}", e);
        }
    }

    // ------------------------------------------------------------------ Hugging Face

    public static ITextTokenizer LoadHf(string dir, int? modelVocab = null)
    {
        var ids = new IdRange(modelVocab);
        var tokenizerPath = Path.Combine(dir, "tokenizer.json");
        using var config = ReadJson(Path.Combine(dir, "tokenizer_config.json"), ModelFileLimits.ConfigJsonBytes);
        using var generation = ReadJson(Path.Combine(dir, "generation_config.json"), ModelFileLimits.ConfigJsonBytes);
        using var tokenizerJson = ReadJson(tokenizerPath, ModelFileLimits.TokenizerJsonBytes);
        var spmPath = Path.Combine(dir, "tokenizer.model");
        var tiktokenPath = Path.Combine(dir, TiktokenFileName);
        if (tokenizerJson is null && !File.Exists(spmPath) && File.Exists(tiktokenPath))
            return LoadTiktoken(tiktokenPath, config, generation, ids);
        if (tokenizerJson is null && !File.Exists(spmPath))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{dir}: no tokenizer.json, tokenizer.model or {TiktokenFileName}");

        var model = tokenizerJson?.RootElement.GetProperty("model");
        var modelType = model is { } m && m.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (tokenizerJson is not null && modelType == "BPE" && IsByteLevel(tokenizerJson.RootElement))
            return HfByteLevel(tokenizerPath, tokenizerJson.RootElement, config, generation, ids);

        var added = tokenizerJson is null ? [] : AddedTokens(tokenizerPath, tokenizerJson.RootElement, ids);
        byte[] proto;
        if (File.Exists(spmPath)) proto = UntrustedFile.ReadAllBytes(spmPath, ModelFileLimits.TokenizerModelBytes);
        else if (modelType is "BPE" or "Unigram")
        {
            var spm = SpmFromTokenizerJson(tokenizerPath, tokenizerJson!.RootElement, added, ids);
            int Find(string? text) => text is null ? -1 : spm.Pieces.FindIndex(p => p.Piece == text);
            spm.BosId = Find(TokenText(config, "bos_token") ?? "<s>");
            spm.EosId = Find(TokenText(config, "eos_token") ?? "</s>");
            proto = spm.ToBytes();
        }
        else throw new Vib3Exception(SqlState.FeatureNotSupported, $"{dir}: tokenizer model {modelType ?? "(none)"} is not supported");

        var pieces = SentencePieceModelProto.Parse(proto);
        ids.CheckCount(spmPath, "tokenizer.model pieces", pieces.Pieces.Count);
        var extra = added.Where(a => a.Id >= pieces.Pieces.Count || pieces.Pieces[a.Id].Piece != a.Content)
            .Select(a => (a.Content, a.Id)).ToList();
        var specialPieces = Enumerable.Range(0, pieces.Pieces.Count).Where(i => IsSpecialPiece(pieces, i))
            .Select(i => (pieces.Pieces[i].Piece, i)).Concat(extra);
        var eog = EndOfGenerationIds(specialPieces, GenerationEos(generation, ids));
        var tok = new SentencePieceTextTokenizer(proto, eog, extra, addBosByDefault: BoolOr(config, "add_bos_token", true));
        return tok;
    }

    private static bool IsSpecialPiece(SentencePieceModelProto m, int id) =>
        id < m.Pieces.Count && m.Pieces[id].Type is SentencePieceModelProto.Control or SentencePieceModelProto.UserDefined;

    private static bool IsByteLevel(JsonElement root)
    {
        static bool Has(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => (e.TryGetProperty("type", out var t) && t.GetString() == "ByteLevel")
                || e.EnumerateObject().Any(p => Has(p.Value)),
            JsonValueKind.Array => e.EnumerateArray().Any(Has),
            _ => false,
        };
        return (root.TryGetProperty("pre_tokenizer", out var p) && Has(p)) || (root.TryGetProperty("decoder", out var d) && Has(d));
    }

    private static List<(string Content, int Id, bool Special)> AddedTokens(string file, JsonElement root, IdRange ids)
    {
        var list = new List<(string, int, bool)>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var a in added.EnumerateArray())
                list.Add((a.GetProperty("content").GetString()!, ids.Check(file, "an added_tokens entry", a.GetProperty("id")),
                    !a.TryGetProperty("special", out var s) || s.ValueKind != JsonValueKind.False));
        return list;
    }

    private static ITextTokenizer HfByteLevel(string file, JsonElement root, JsonDocument? config, JsonDocument? generation, IdRange ids)
    {
        var model = root.GetProperty("model");
        var tokens = new List<string?>();
        foreach (var p in model.GetProperty("vocab").EnumerateObject())
        {
            var id = ids.Check(file, "a model.vocab entry", p.Value);
            while (tokens.Count <= id) tokens.Add(null);
            tokens[id] = p.Name;
        }
        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var ms))
            foreach (var mg in ms.EnumerateArray())
                merges.Add(Merge(file, mg) is var (left, right) && right is null ? left : left + " " + right);
        var added = AddedTokens(file, root, ids);
        var (patterns, addPrefixSpace) = HfPreTokenizer(root.TryGetProperty("pre_tokenizer", out var pt) ? pt : default);

        int? Lookup(string? text)
        {
            if (text is null) return null;
            foreach (var a in added) if (a.Content == text) return a.Id;
            var i = tokens.IndexOf(text);
            return i >= 0 ? i : null;
        }
        var bos = Lookup(TokenText(config, "bos_token")) ?? IdFrom(generation, "bos_token_id", ids);
        var eosIds = GenerationEos(generation, ids);
        var eos = Lookup(TokenText(config, "eos_token")) ?? (eosIds.Count > 0 ? eosIds[0] : null);
        var eog = EndOfGenerationIds(added.Select(a => (a.Content, a.Id)), eosIds);
        return new ByteLevelBpeTextTokenizer(tokens, merges, added, patterns, bos, eos, eog, addPrefixSpace,
            addBosByDefault: BoolOr(config, "add_bos_token", false) && bos is not null);
    }

    /// <summary>Split regexes and ByteLevel's add_prefix_space from a tokenizer.json pre_tokenizer. Pieces vib3
    /// cannot express fall back to GPT-2's pattern: conversion refuses such a tokenizer
    /// (<see cref="UnsupportedPreTokenizer"/>) unless the fallback was asked for and recorded in the manifest.</summary>
    public static (IReadOnlyList<string> Patterns, bool AddPrefixSpace) HfPreTokenizer(JsonElement pre)
    {
        var (patterns, addPrefixSpace, unsupported) = ReadHfPreTokenizer(pre);
        return (unsupported is not null || patterns.Count == 0 ? [PreTokenizerPatterns.Gpt2] : patterns, addPrefixSpace);
    }

    /// <summary>The HF pre-tokenizer types vib3 expresses as split regexes.</summary>
    public const string KnownHfPreTokenizers = "Sequence, ByteLevel, Split (behavior Isolated, not inverted), Digits";

    /// <summary>What in a tokenizer.json vib3 would have to replace by GPT-2's split, or null when it splits as the
    /// checkpoint says (or the tokenizer is not byte-level BPE, whose split comes from elsewhere).</summary>
    public static string? UnsupportedPreTokenizer(JsonElement tokenizerJson)
    {
        if (!tokenizerJson.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
            || !model.TryGetProperty("type", out var t) || t.GetString() != "BPE" || !IsByteLevel(tokenizerJson))
            return null;
        return ReadHfPreTokenizer(tokenizerJson.TryGetProperty("pre_tokenizer", out var pt) ? pt : default).Unsupported;
    }

    /// <summary>What in GGUF tokenizer metadata vib3 would have to replace by GPT-2's split, or null.</summary>
    public static string? UnsupportedGgufPre(string? model, string? pre) =>
        model == "gpt2" && PreTokenizerPatterns.ForGgufPre(pre) is null ? $"tokenizer.ggml.pre '{UntrustedText.Shown(pre, 80)}'" : null;

    private static (List<string> Patterns, bool AddPrefixSpace, string? Unsupported) ReadHfPreTokenizer(JsonElement pre)
    {
        var patterns = new List<string>();
        var addPrefixSpace = false;
        string? unsupported = null;
        void Walk(JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object) return;
            var type = e.TryGetProperty("type", out var t) ? t.GetString() : null;
            switch (type)
            {
                case "Sequence":
                    foreach (var p in e.GetProperty("pretokenizers").EnumerateArray()) Walk(p);
                    break;
                case "ByteLevel":
                    if (!e.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False) patterns.Add(PreTokenizerPatterns.Gpt2);
                    if (e.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True) addPrefixSpace = true;
                    break;
                case "Split":
                    var pat = e.GetProperty("pattern");
                    var behavior = e.TryGetProperty("behavior", out var b) ? b.GetString() : "Isolated";
                    var invert = e.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True;
                    if (behavior != "Isolated" || invert) { unsupported ??= $"pre-tokenizer Split with behavior {behavior}{(invert ? ", inverted" : "")}"; break; }
                    if (pat.TryGetProperty("Regex", out var rx)) patterns.Add(PreTokenizerPatterns.FromOniguruma(rx.GetString()!));
                    else if (pat.TryGetProperty("String", out var str)) patterns.Add(System.Text.RegularExpressions.Regex.Escape(str.GetString()!));
                    break;
                case "Digits":
                    patterns.Add(e.TryGetProperty("individual_digits", out var ind) && ind.ValueKind == JsonValueKind.True ? @"\p{Nd}" : @"\p{Nd}+");
                    break;
                default:
                    unsupported ??= type is null ? "a pre-tokenizer without a type" : $"pre-tokenizer {UntrustedText.Shown(type, 80)}";
                    break;
            }
        }
        Walk(pre);
        return (patterns, addPrefixSpace, unsupported);
    }

    private static SentencePieceModelProto SpmFromTokenizerJson(string file, JsonElement root, List<(string Content, int Id, bool Special)> added, IdRange ids)
    {
        var model = root.GetProperty("model");
        var type = model.GetProperty("type").GetString();
        var proto = new SentencePieceModelProto
        {
            ModelType = type == "BPE" ? SentencePieceModelProto.Bpe : SentencePieceModelProto.Unigram,
            ByteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True,
            RemoveExtraWhitespaces = false,
            AddDummyPrefix = HasPrepend(root),
            BosId = -1, EosId = -1, UnkId = 0,
        };
        var pieces = new List<(string Piece, float Score)?>();
        if (type == "BPE")
        {
            var rank = new Dictionary<string, int>(StringComparer.Ordinal);
            var i = 0;
            foreach (var mg in model.GetProperty("merges").EnumerateArray())
            {
                var merged = Merge(file, mg) is var (left, right) && right is null ? left.Replace(" ", "", StringComparison.Ordinal) : left + right;
                rank.TryAdd(merged, i++);
            }
            foreach (var p in model.GetProperty("vocab").EnumerateObject())
            {
                var id = ids.Check(file, "a model.vocab entry", p.Value);
                while (pieces.Count <= id) pieces.Add(null);
                pieces[id] = (p.Name, rank.TryGetValue(p.Name, out var r) ? -r : -(rank.Count + id));
            }
        }
        else
        {
            ids.CheckCount(file, "model.vocab", model.GetProperty("vocab").GetArrayLength());
            foreach (var v in model.GetProperty("vocab").EnumerateArray())
            {
                if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2 || v[0].ValueKind != JsonValueKind.String)
                    throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: a Unigram model.vocab entry is not [piece, score]");
                pieces.Add((v[0].GetString()!, v[1].GetSingle()));
            }
            if (model.TryGetProperty("unk_id", out var u) && u.ValueKind == JsonValueKind.Number) proto.UnkId = ids.Check(file, "model.unk_id", u);
        }
        var unk = model.TryGetProperty("unk_token", out var ut) && ut.ValueKind == JsonValueKind.String ? ut.GetString() : null;
        var special = added.Where(a => a.Special).Select(a => a.Id).ToHashSet();
        for (var id = 0; id < pieces.Count; id++)
        {
            var (piece, score) = pieces[id] ?? ($"<unused{id}>", 0f);
            var kind = pieces[id] is null ? SentencePieceModelProto.Unused
                : piece == unk || (type != "BPE" && id == proto.UnkId) ? SentencePieceModelProto.Unknown
                : special.Contains(id) ? SentencePieceModelProto.Control
                : piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' ? SentencePieceModelProto.Byte
                : SentencePieceModelProto.Normal;
            if (kind == SentencePieceModelProto.Unknown) proto.UnkId = id;
            proto.Pieces.Add((piece, score, kind));
        }
        return proto;
    }

    private static bool HasPrepend(JsonElement root)
    {
        static bool Has(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => (e.TryGetProperty("type", out var t) && (t.GetString() == "Prepend"
                    || (t.GetString() == "Metaspace" && ((e.TryGetProperty("add_prefix_space", out var a) && a.ValueKind == JsonValueKind.True)
                        || (e.TryGetProperty("prepend_scheme", out var s) && s.GetString() is "first" or "always")))))
                || e.EnumerateObject().Any(p => Has(p.Value)),
            JsonValueKind.Array => e.EnumerateArray().Any(Has),
            _ => false,
        };
        return (root.TryGetProperty("normalizer", out var n) && Has(n)) || (root.TryGetProperty("pre_tokenizer", out var p) && Has(p));
    }

    // ------------------------------------------------------------------ GGUF

    public static ITextTokenizer LoadGguf(string file, int? modelVocab = null)
    {
        using var doc = ReadJson(file, ModelFileLimits.TokenizerJsonBytes) ?? throw new Vib3Exception(SqlState.UndefinedObject, $"{file}: not found");
        var root = doc.RootElement;
        var kind = Str(root, "tokenizer.ggml.model") ?? "(none)";
        var tokens = root.GetProperty("tokenizer.ggml.tokens").EnumerateArray().Select(e => e.GetString()!).ToList();
        var ids = new IdRange(modelVocab);
        ids.CheckCount(file, "tokenizer.ggml.tokens", tokens.Count);
        TokenizerVocabulary.EnsureDistinct(tokens, file, "tokenizer.ggml.tokens");
        var types = root.TryGetProperty("tokenizer.ggml.token_type", out var tt)
            ? tt.EnumerateArray().Select(e => e.GetInt32()).ToList() : Enumerable.Repeat(1, tokens.Count).ToList();
        SameLength(file, "tokenizer.ggml.token_type", types.Count, tokens.Count);
        int? Id(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.GetInt64() >= 0 && v.GetInt64() < tokens.Count ? (int)v.GetInt64() : null;
        bool? Flag(string key) => root.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
        var bos = Id("tokenizer.ggml.bos_token_id");
        var eos = Id("tokenizer.ggml.eos_token_id");
        var declaredEog = new[] { eos, Id("tokenizer.ggml.eot_token_id"), Id("tokenizer.ggml.eom_token_id") }.OfType<int>().ToList();
        var controls = Enumerable.Range(0, tokens.Count).Where(i => types[i] is SentencePieceModelProto.Control or SentencePieceModelProto.UserDefined)
            .Select(i => (tokens[i], i));
        var eog = EndOfGenerationIds(controls, declaredEog);

        switch (kind)
        {
            case "gpt2":
            {
                var merges = root.TryGetProperty("tokenizer.ggml.merges", out var ms)
                    ? ms.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
                var pre = Str(root, "tokenizer.ggml.pre");
                // an unknown name was refused at conversion unless the manifest records the GPT-2 fallback
                var patterns = PreTokenizerPatterns.ForGgufPre(pre) ?? [PreTokenizerPatterns.Gpt2];
                var added = Enumerable.Range(0, tokens.Count)
                    .Where(i => types[i] is SentencePieceModelProto.Control or SentencePieceModelProto.UserDefined)
                    .Select(i => (tokens[i], i, types[i] == SentencePieceModelProto.Control)).ToList();
                return new ByteLevelBpeTextTokenizer(tokens, merges, added, patterns, bos, eos, eog,
                    addPrefixSpace: Flag("tokenizer.ggml.add_space_prefix") ?? false,
                    addBosByDefault: (Flag("tokenizer.ggml.add_bos_token") ?? false) && bos is not null);
            }
            case "llama":
            {
                var scores = root.TryGetProperty("tokenizer.ggml.scores", out var sc)
                    ? sc.EnumerateArray().Select(e => e.GetSingle()).ToList() : null;
                if (scores is not null) SameLength(file, "tokenizer.ggml.scores", scores.Count, tokens.Count);
                var proto = new SentencePieceModelProto
                {
                    ModelType = SentencePieceModelProto.Bpe,
                    ByteFallback = types.Contains(SentencePieceModelProto.Byte),
                    UnkId = Id("tokenizer.ggml.unknown_token_id") ?? 0,
                    BosId = bos ?? -1,
                    EosId = eos ?? -1,
                    PadId = Id("tokenizer.ggml.padding_token_id") ?? -1,
                    AddDummyPrefix = Flag("tokenizer.ggml.add_space_prefix") ?? true,
                    RemoveExtraWhitespaces = false,
                };
                for (var i = 0; i < tokens.Count; i++)
                    proto.Pieces.Add((tokens[i], scores is null ? -i : scores[i], types[i] is >= 1 and <= 6 ? types[i] : SentencePieceModelProto.Normal));
                return new SentencePieceTextTokenizer(proto.ToBytes(), eog, addBosByDefault: Flag("tokenizer.ggml.add_bos_token") ?? true);
            }
            default:
                throw new Vib3Exception(SqlState.FeatureNotSupported, $"{file}: tokenizer model {kind} is not supported");
        }
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>A merges entry: "left right" (returned whole, Right null) or ["left", "right"] (tokenizers ≥ 0.20).</summary>
    private static (string Left, string? Right) Merge(string file, JsonElement merge)
    {
        if (merge.ValueKind == JsonValueKind.String) return (merge.GetString()!, null);
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
            && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            return (merge[0].GetString()!, merge[1].GetString());
        throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: a model.merges entry is neither \"left right\" nor [\"left\", \"right\"]");
    }

    /// <summary>A per-token array (types, scores) must have one entry for every token.</summary>
    private static void SameLength(string file, string field, int count, int tokens)
    {
        if (count != tokens)
            throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: {field} has {count} entries for {tokens} tokens");
    }

    private static List<int> EndOfGenerationIds(IEnumerable<(string Text, int Id)> specials, IEnumerable<int> declared)
    {
        var ids = new List<int>(declared);
        foreach (var (text, id) in specials)
            if (EndOfGenerationTexts.Contains(text, StringComparer.Ordinal)) ids.Add(id);
        return ids;
    }

    private static List<int> GenerationEos(JsonDocument? generation, IdRange ids)
    {
        if (generation is null || !generation.RootElement.TryGetProperty("eos_token_id", out var e)) return [];
        const string what = "generation_config.json eos_token_id";
        return e.ValueKind switch
        {
            JsonValueKind.Number => [ids.Check(GenerationConfig, what, e)],
            JsonValueKind.Array => [.. e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => ids.Check(GenerationConfig, what, x))],
            _ => [],
        };
    }

    private const string GenerationConfig = "generation_config.json";

    private static int? IdFrom(JsonDocument? doc, string key, IdRange ids) =>
        doc is not null && doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? ids.Check(GenerationConfig, key, v) : null;

    /// <summary>A token named in tokenizer_config.json: a string or an AddedToken object {"content": ...}.</summary>
    public static string? TokenText(JsonDocument? config, string key)
    {
        if (config is null || !config.RootElement.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        };
    }

    private static bool BoolOr(JsonDocument? doc, string key, bool fallback) =>
        doc is not null && doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    private static string? Str(JsonElement root, string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonDocument? ReadJson(string path, long maxBytes) =>
        File.Exists(path) ? UntrustedJson.Read(path, maxBytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) : null;
}
