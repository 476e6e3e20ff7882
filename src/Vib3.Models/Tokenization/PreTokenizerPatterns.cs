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

    public static readonly IReadOnlyList<string> DeepSeekV3 = new[]
    {
        @"\p{N}{1,3}",
        @"[一-龥぀-ゟ゠-ヿ]+",
        @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    }.Select(FromOniguruma).ToArray();

    /// <summary>UTF-16 code units of the emoji and pictograph blocks (U+1F000–U+1FAFF: high surrogates D83C–D83E, any
    /// low surrogate). .NET matches code units, and a surrogate is category Cs, never \p{S}; added wherever a class
    /// names \p{S} so that " 👋🏽" is one symbol run as in Oniguruma and Python.</summary>
    private const string EmojiSurrogates = @"\uD83C-\uD83E\uDC00-\uDFFF";

    /// <summary>Code units of the Han script inside the Basic Multilingual Plane (Unicode Scripts.txt: CJK radicals,
    /// Kangxi radicals, 々 〇 and the Hangzhou numerals, Extension A, the unified and compatibility ideographs).</summary>
    private const string HanBmp = @"\u2E80-\u2E99\u2E9B-\u2EF3\u2F00-\u2FD5\u3005\u3007\u3021-\u3029\u3038-\u303B\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFA6D\uFA70-\uFAD9";

    /// <summary>One Han character. .NET has no \p{Han} and matches UTF-16 code units, so the supplementary ideographs
    /// (planes 2 and 3, which hold nothing else) are spelled as their surrogate pairs.</summary>
    private const string HanChar = @"(?:[" + HanBmp + @"]|[\uD840-\uD8BF][\uDC00-\uDFFF])";

    /// <summary>Python's <c>[^\r\n\p{L}\p{N}]?</c> over code points: one BMP non-letter, or a surrogate pair outside
    /// planes 2–3 (taken as a symbol).</summary>
    private const string NonLetterPrefix = @"(?:[^\r\n\p{L}\p{N}\uD800-\uDFFF]|[\uD800-\uD83F\uD8C0-\uDBFF][\uDC00-\uDFFF])?";

    /// <summary>Kimi K2's (and Moonlight's) tiktoken pat_str, the tokenization_kimi.py pattern llama.cpp calls pre
    /// "kimi-k2": a run of Han characters is one piece; other letters split at case changes like o200k (Oniguruma's
    /// <c>[...&amp;&amp;[^\p{Han}]]</c> becomes .NET class subtraction); digits go in groups of up to three. The
    /// punctuation run excludes the high surrogates of planes 2–3 so it stops before a supplementary ideograph, as
    /// Python's regex does (there the ideograph is a letter); the one-character prefix of a word takes a whole
    /// surrogate pair (an emoji before "abc" joins it, as in Python), never half of one.</summary>
    public const string KimiK2 =
        HanChar + "+" +
        "|" + NonLetterPrefix + @"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}-[" + HanBmp + @"]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}-[" + HanBmp + @"]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        "|" + NonLetterPrefix + @"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}-[" + HanBmp + @"]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}-[" + HanBmp + @"]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}" +
        @"| ?[^\s\p{L}\p{N}\uD840-\uD8BF]+[\r\n]*" +
        @"|\s*[\r\n]+" +
        @"|\s+(?!\S)" +
        @"|\s+";

    /// <summary>The tokenizer.ggml.pre names vib3 splits as llama.cpp does (a missing or empty name is GPT-2's).</summary>
    private static readonly Dictionary<string, IReadOnlyList<string>> GgufPre = new(StringComparer.Ordinal)
    {
        ["default"] = [Gpt2], ["gpt2"] = [Gpt2], ["gpt-2"] = [Gpt2], ["olmo"] = [Gpt2], ["jais"] = [Gpt2],
        ["mpt"] = [Gpt2], ["starcoder"] = [Gpt2], ["refact"] = [Gpt2],
        ["llama3"] = [Llama3], ["llama-bpe"] = [Llama3], ["llama-v3"] = [Llama3], ["smaug-bpe"] = [Llama3],
        ["falcon3"] = [Llama3], ["dbrx"] = [Llama3],
        ["qwen2"] = [Qwen2], ["deepseek-r1-qwen"] = [Qwen2], ["megrez"] = [Qwen2],
        ["deepseek-v3"] = DeepSeekV3,
        ["kimi-k2"] = [KimiK2],
    };

    /// <summary>The known tokenizer.ggml.pre names, for a message that refuses another.</summary>
    public static string KnownGgufPre => string.Join(", ", GgufPre.Keys);

    /// <summary>Patterns for a tokenizer.ggml.pre value; null when vib3 does not know the name.</summary>
    public static IReadOnlyList<string>? ForGgufPre(string? pre) =>
        string.IsNullOrEmpty(pre) ? [Gpt2] : GgufPre.GetValueOrDefault(pre);

    /// <summary>Oniguruma → .NET: possessive quantifiers (x?+, x*+, x++, x{n}+) have no .NET spelling and become
    /// greedy ones, which split the same way on every pattern these vocabularies use; \p{S} also takes the emoji
    /// surrogates (<see cref="EmojiSurrogates"/>). Applied twice, it matches the same.</summary>
    public static string FromOniguruma(string pattern)
    {
        var sb = new StringBuilder(pattern.Length);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (string.CompareOrdinal(pattern, i, @"\p{S}", 0, 5) == 0)
            {
                sb.Append(inClass ? @"\p{S}" + EmojiSurrogates : @"[\p{S}" + EmojiSurrogates + "]");
                i += 4;
                continue;
            }
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
