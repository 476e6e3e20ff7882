using System.Text.Json;
using Vib3.Core;

namespace Vib3.Models.Tokenization;

public static partial class TokenizerLoader
{
    public const string TiktokenFileName = "tiktoken.model";

    /// <summary>How many ids tokenization_kimi.py sets aside after the ranked tokens for special tokens; the ones
    /// tokenizer_config.json does not name are "&lt;|reserved_token_{id}|&gt;".</summary>
    private const int KimiReservedSpecialTokens = 256;

    /// <summary>A tiktoken.model with tokenizer_config.json (Kimi K2): the special tokens are the config's
    /// added_tokens_decoder (ids from the ranked-token count on), the split regex is Kimi's pat_str, BOS is only
    /// prepended when the config asks (tiktoken itself never adds it; Kimi's chat template writes none).</summary>
    private static ITextTokenizer LoadTiktoken(string tiktokenPath, JsonDocument? config, JsonDocument? generation, IdRange ids)
    {
        var ranked = TiktokenModelFile.Read(tiktokenPath);
        ids.CheckCount(tiktokenPath, "the ranked tokens", ranked.Length);
        var specials = TiktokenSpecialTokens(tiktokenPath, ranked.Length, config, ids);
        int? Lookup(string? text) => text is not null && specials.TryGetValue(text, out var id) ? id : null;
        var eosIds = GenerationEos(generation, ids);
        var bos = Lookup(TokenText(config, "bos_token")) ?? IdFrom(generation, "bos_token_id", ids);
        var eos = Lookup(TokenText(config, "eos_token")) ?? (eosIds.Count > 0 ? eosIds[0] : null);
        var eog = EndOfGenerationIds(specials.Select(kv => (kv.Key, kv.Value)), eosIds);
        return new TiktokenTextTokenizer(tiktokenPath, ranked, specials, PreTokenizerPatterns.KimiK2, bos, eos, eog,
            addBosByDefault: BoolOr(config, "add_bos_token", false));
    }

    private static Dictionary<string, int> TiktokenSpecialTokens(string tiktokenPath, int rankedCount, JsonDocument? config, IdRange ids)
    {
        var byId = new SortedDictionary<int, string>();
        if (config is not null && config.RootElement.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            foreach (var entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
                    || !entry.Value.TryGetProperty("content", out var content) || content.GetString() is not { Length: > 0 } text)
                    throw new Vib3Exception(SqlState.DataCorrupted, $"{tiktokenPath}: tokenizer_config.json added_tokens_decoder entry '{entry.Name}' needs a numeric id and a content");
                if (id < rankedCount)
                    throw new Vib3Exception(SqlState.DataCorrupted,
                        $"{tiktokenPath}: tokenizer_config.json gives special token '{text}' id {id}, inside the {rankedCount} ranked tokens");
                byId[id] = text;
                ids.Check(tiktokenPath, "tokenizer_config.json added_tokens_decoder", id);
            }
        var last = Math.Min(ids.Limit, Math.Max(rankedCount + KimiReservedSpecialTokens, byId.Count == 0 ? 0 : byId.Keys.Max() + 1));
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = rankedCount; id < last; id++)
        {
            var text = byId.TryGetValue(id, out var t) ? t : $"<|reserved_token_{id}|>";
            if (!specials.TryAdd(text, id))
                throw new Vib3Exception(SqlState.DataCorrupted, $"{tiktokenPath}: special token '{text}' has two ids ({specials[text]} and {id})");
        }
        return specials;
    }
}
