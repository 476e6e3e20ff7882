using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>Pre-tokenizer regexes of the byte-level BPE vocabularies vib3 meets, by llama.cpp's tokenizer.ggml.pre
/// name, and the translation of Hugging Face (Oniguruma) patterns to .NET regex syntax.</summary>
public static class PreTokenizerPatterns
{
    /// <summary>GPT-2's pattern (HF ByteLevel with use_regex; OLMoE's GPT-NeoX vocabulary).</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static readonly IReadOnlyList<string> DeepSeekV3 =
    [
        @"\p{N}{1,3}",
        @"[一-龥぀-ゟ゠-ヿ]+",
        @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ];

    /// <summary>Patterns for a tokenizer.ggml.pre value; null when vib3 does not know the name.</summary>
    public static IReadOnlyList<string>? ForGgufPre(string? pre) => pre switch
    {
        null or "" or "default" or "gpt2" or "gpt-2" or "olmo" or "jais" or "mpt" or "starcoder" or "refact" => [Gpt2],
        "llama3" or "llama-bpe" or "llama-v3" or "smaug-bpe" or "falcon3" or "dbrx" => [Llama3],
        "qwen2" or "deepseek-r1-qwen" or "megrez" => [Qwen2],
        "deepseek-v3" => DeepSeekV3,
        _ => null,
    };

    /// <summary>Oniguruma → .NET: possessive quantifiers (x?+, x*+, x++, x{n}+) have no .NET spelling and become
    /// greedy ones, which split the same way on every pattern these vocabularies use.</summary>
    public static string FromOniguruma(string pattern)
    {
        var sb = new StringBuilder(pattern.Length);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                sb.Append(c).Append(pattern[++i]);
                continue;
            }
            if (inClass) { if (c == ']') inClass = false; sb.Append(c); continue; }
            if (c == '[') { inClass = true; sb.Append(c); continue; }
            sb.Append(c);
            var prevIsGroupOpen = c == '?' && i > 0 && pattern[i - 1] == '(';
            if (c is '?' or '*' or '+' or '}' && !prevIsGroupOpen && i + 1 < pattern.Length && pattern[i + 1] == '+') i++;
        }
        return sb.ToString();
    }
}
