using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>The checkpoint's pre-tokenizer, checked before conversion writes anything. One vib3 cannot express (an
/// unknown HF pre-tokenizer type, an unknown GGUF tokenizer.ggml.pre) would be split as GPT-2 splits, which gives
/// other token ids than the model was trained on; so it is refused unless the caller asked for that fallback, and
/// then the manifest records it (<see cref="TokenizerInfo.PreTokenizerFallback"/>) for `vib3 info` to show.</summary>
internal static class PreTokenizerCheck
{
    /// <summary>The one fallback vib3 offers: GPT-2's split.</summary>
    public const string Gpt2 = "gpt2";

    /// <summary>Null when the checkpoint's split is one vib3 knows; else what it replaces with GPT-2's (only when
    /// <paramref name="fallback"/> is "gpt2"; otherwise throws 0A000 naming it and the ones vib3 knows).</summary>
    public static string? Check(ICheckpointReader reader, string? fallback)
    {
        if (fallback is not null && fallback != Gpt2)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"tokenizer fallback '{UntrustedText.Shown(fallback, 40)}' is not supported (the only one is '{Gpt2}')");
        var (where, unsupported, known) = reader is GgufCheckpoint g ? FromGguf(g) : FromHf(ModelConverter.CheckpointFolder(reader));
        if (unsupported is null || fallback == Gpt2) return unsupported;
        throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{where}: {unsupported} is not supported (vib3 knows: {known}); convert with --tokenizer-fallback {Gpt2} " +
            $"(CREATE MODEL ... WITH (tokenizer_fallback = '{Gpt2}')) to split as GPT-2 does, which may give other token ids");
    }

    private static (string Where, string? Unsupported, string Known) FromGguf(GgufCheckpoint g)
    {
        string? Str(string key) => g.TryGet(key, out var v) && v.Type == GgufValueType.String ? v.GetString() : null;
        return (g.Path, TokenizerLoader.UnsupportedGgufPre(Str("tokenizer.ggml.model"), Str("tokenizer.ggml.pre")),
            "tokenizer.ggml.pre " + PreTokenizerPatterns.KnownGgufPre);
    }

    private static (string Where, string? Unsupported, string Known) FromHf(string folder)
    {
        var path = Path.Combine(folder, "tokenizer.json");
        if (!File.Exists(path)) return (path, null, "");
        try
        {
            using var doc = JsonDocument.Parse(UntrustedFile.ReadAllBytes(path, ModelFileLimits.TokenizerJsonBytes));
            return (path, TokenizerLoader.UnsupportedPreTokenizer(doc.RootElement), TokenizerLoader.KnownHfPreTokenizers);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{path}: not a valid tokenizer.json ({UntrustedText.Shown(e.Message, 200)})");
        }
    }
}
