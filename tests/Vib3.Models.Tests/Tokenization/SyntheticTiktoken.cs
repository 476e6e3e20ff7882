using System.Text;
using System.Text.Json;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>A small Kimi-shaped tiktoken vocabulary: the 256 single bytes (ranks 0..255), then the merges a tiny BPE
/// trainer learns from a mixed English / CJK / digit / emoji text split by Kimi's regex, each merge's result taking the
/// next rank — the layout of a real tiktoken.model. The special tokens sit after the ranked ones with Kimi K2's
/// offsets ([BOS] at +0, [EOS] +1, &lt;|im_end|&gt; +2, … &lt;|im_middle|&gt; +17, [UNK] +254, [PAD] +255).</summary>
public static class SyntheticTiktoken
{
    public const string TrainingText =
        "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs. " +
        "HTTPServer parseJSON camelCase it's they're we've I'm you'll he'd. " +
        "the engine reads a model from disk one expert at a time, then the next expert, then the next. " +
        "我爱北京天安门。北京是中国的首都。中文字符和日本語のテキスト。价格是1234元。 " +
        "1234567890 2024 365 3.14159 100% 42 12 123 " +
        "emoji 👋🏽 😀 😀 🇫🇷 café naïve Ünïcödé\n\n\tindent  spaces   here\r\n";

    public static readonly (int Offset, string Text)[] KimiSpecials =
    [
        (0, "[BOS]"), (1, "[EOS]"), (2, "<|im_end|>"), (3, "<|im_user|>"), (4, "<|im_assistant|>"),
        (6, "<|start_header_id|>"), (7, "<|end_header_id|>"), (9, "[EOT]"), (10, "<|im_system|>"),
        (11, "<|tool_calls_section_begin|>"), (12, "<|tool_calls_section_end|>"), (13, "<|tool_call_begin|>"),
        (14, "<|tool_call_argument_begin|>"), (15, "<|tool_call_end|>"), (17, "<|im_middle|>"),
        (254, "[UNK]"), (255, "[PAD]"),
    ];

    /// <summary>Token bytes by rank.</summary>
    public static List<byte[]> Train(int merges)
    {
        var ranks = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var split = new SplitPreTokenizer([PreTokenizerPatterns.KimiK2], []);
        var words = split.PreTokenize(TrainingText)
            .Select(p => Encoding.UTF8.GetBytes(TrainingText.Substring(p.Offset, p.Length)).Select(b => new[] { b }).ToList())
            .ToList();
        for (var m = 0; m < merges; m++)
        {
            var counts = new Dictionary<string, (int Count, byte[] Bytes)>(StringComparer.Ordinal);
            foreach (var w in words)
                for (var i = 0; i + 1 < w.Count; i++)
                {
                    var joined = w[i].Concat(w[i + 1]).ToArray();
                    var key = System.Convert.ToBase64String(joined);
                    counts[key] = (counts.TryGetValue(key, out var c) ? c.Count + 1 : 1, joined);
                }
            // most frequent pair; ties broken by the bytes so the vocabulary is the same on every run
            var best = counts.Where(kv => kv.Value.Count >= 2).OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Key, StringComparer.Ordinal).FirstOrDefault();
            if (best.Key is null) break;
            var merged = best.Value.Bytes;
            ranks.Add(merged);
            foreach (var w in words)
                for (var i = 0; i + 1 < w.Count; i++)
                    if (w[i].Length + w[i + 1].Length == merged.Length && w[i].Concat(w[i + 1]).SequenceEqual(merged))
                    {
                        w[i] = merged;
                        w.RemoveAt(i + 1);
                    }
        }
        return ranks;
    }

    public static string ToTiktokenFile(IEnumerable<byte[]> ranks) =>
        string.Concat(ranks.Select((b, rank) => System.Convert.ToBase64String(b) + " " + rank + "\n"));

    /// <summary>A Kimi-style tokenizer_config.json: added_tokens_decoder, [BOS]/[EOS], no add_bos_token.</summary>
    public static string ToTokenizerConfig(int rankedCount, string? chatTemplate = null)
    {
        var decoder = KimiSpecials.ToDictionary(s => (rankedCount + s.Offset).ToString(System.Globalization.CultureInfo.InvariantCulture),
            s => (object)new Dictionary<string, object> { ["content"] = s.Text, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true });
        var config = new Dictionary<string, object?>
        {
            ["added_tokens_decoder"] = decoder,
            ["bos_token"] = "[BOS]",
            ["eos_token"] = "[EOS]",
            ["pad_token"] = "[PAD]",
            ["unk_token"] = "[UNK]",
            ["tokenizer_class"] = "TikTokenTokenizer",
            ["chat_template"] = chatTemplate,
        };
        return JsonSerializer.Serialize(config);
    }

    /// <summary>tiktoken's encoding of one pre-tokenized piece, written independently of Microsoft.ML.Tokenizers: a
    /// piece that is a token is that token; otherwise adjacent parts are merged, lowest rank of the joined bytes first.</summary>
    public static List<int> ReferenceEncodePiece(byte[] piece, IReadOnlyDictionary<string, int> rankOf)
    {
        if (rankOf.TryGetValue(System.Convert.ToBase64String(piece), out var whole)) return [whole];
        var parts = piece.Select(b => new[] { b }).ToList();
        while (true)
        {
            var bestAt = -1;
            var bestRank = int.MaxValue;
            for (var i = 0; i + 1 < parts.Count; i++)
                if (rankOf.TryGetValue(System.Convert.ToBase64String(parts[i].Concat(parts[i + 1]).ToArray()), out var r) && r < bestRank)
                    (bestAt, bestRank) = (i, r);
            if (bestAt < 0) break;
            parts[bestAt] = parts[bestAt].Concat(parts[bestAt + 1]).ToArray();
            parts.RemoveAt(bestAt + 1);
        }
        return parts.Select(p => rankOf[System.Convert.ToBase64String(p)]).ToList();
    }
}
