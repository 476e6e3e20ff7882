using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Vib3.Synth;

/// <summary>A small but real byte-level BPE tokenizer (GPT-2 style): ids 0..2 are &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;,
/// then the 256 byte tokens in byte order, then merges learned from a fixed English text. If the text runs
/// out of merges before the requested size, the rest is filled with &lt;|reserved_N|&gt; control tokens.</summary>
public sealed class SyntheticTokenizer
{
    public const int UnkId = 0, BosId = 1, EosId = 2;
    public const int SpecialCount = 3;

    /// <summary>llama.cpp token types.</summary>
    public const int TypeNormal = 1, TypeControl = 3;

    /// <summary>The GPT-2 pre-tokenizer pattern.</summary>
    public const string PreTokenizerPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public const string TrainingText =
        "The small engine reads a model from disk one expert at a time. Each layer has a router that picks " +
        "the top experts for every token, and only those experts are loaded into memory. When the cache is " +
        "warm, the same experts are reused and the answer comes back quickly. When the cache is cold, the " +
        "engine streams the weights from the file in large blocks and keeps the hottest ones close to the " +
        "processor. A query can ask which experts were used, how often they were used, and how long it took " +
        "to read them. The tables are plain and the names are simple, so a person can read the plan and see " +
        "where the time went. In the morning the team ran the tests again; the numbers were better than the " +
        "day before, and the model gave the same answers with less memory. Small models are good for tests " +
        "because they are fast to build, fast to read, and easy to check by hand. There are four families " +
        "of models here: one with eight experts per layer, one with a shared expert, one with norms on the " +
        "queries and keys, and one with many small experts. They all share the same shape of attention and " +
        "the same kind of router, but the names of their tensors differ, and the converter has to know each " +
        "name. The quick brown fox jumps over the lazy dog. 0123456789, 2024, 3.14, 100%! What is the " +
        "capital of France? Paris is the capital of France, and Rome is the capital of Italy. " +
        "Winter came early that year. The river froze along its northern banks, and children walked across it " +
        "to school while their parents watched from the bridge. Bakers opened before sunrise; the smell of " +
        "bread drifted through narrow streets where lanterns still burned. Farmers brought apples, cabbages, " +
        "potatoes and honey to the market square, and merchants argued about prices with cheerful voices. " +
        "Somewhere a violin played an old melody, slowly, as if remembering summer. Scientists measure " +
        "temperature, pressure, distance and velocity; engineers design bridges, engines, computers and " +
        "networks; doctors examine patients and prescribe medicine; teachers explain history, geography, " +
        "mathematics and literature. Libraries keep thousands of books, newspapers, journals and maps. " +
        "Mountains rise above green valleys, forests cover the hills, and oceans surround distant islands " +
        "where birds build nests among the rocks. Would you like coffee or tea? Yes, please: two cups, with " +
        "milk and sugar. My brother's garden has tomatoes, beans, carrots, onions and beautiful yellow " +
        "flowers. Numbers such as 7, 42, 365 and 1000 appear in calendars, recipes, invoices and timetables. " +
        "January, February, March, April, May, June, July, August, September, October, November, December. " +
        "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday. Red, orange, yellow, green, blue, " +
        "purple, black, white, gray and brown are colors. One, two, three, four, five, six, seven, eight, nine, ten.";

    private SyntheticTokenizer(List<string> tokens, List<int> types, List<string> merges)
    {
        Tokens = tokens;
        TokenTypes = types;
        Merges = merges;
    }

    /// <summary>Token strings by id, in the byte-to-unicode form GPT-2 vocabularies use.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>llama.cpp token types by id (1 normal, 3 control).</summary>
    public IReadOnlyList<int> TokenTypes { get; }

    /// <summary>Merges in priority order, each "left right".</summary>
    public IReadOnlyList<string> Merges { get; }

    public int Count => Tokens.Count;

    public static string UnkToken => "<unk>";
    public static string BosToken => "<s>";
    public static string EosToken => "</s>";

    private static readonly string[] ByteToUnicode = BuildByteToUnicode();

    /// <summary>GPT-2's printable stand-in for each byte.</summary>
    public static string ByteChar(byte b) => ByteToUnicode[b];

    private static string[] BuildByteToUnicode()
    {
        var map = new string[256];
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? ((char)b).ToString() : ((char)(256 + n++)).ToString();
        }
        return map;
    }

    public static SyntheticTokenizer Build(int vocabSize)
    {
        if (vocabSize < SpecialCount + 256)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"vocab must hold at least {SpecialCount + 256} tokens");
        var tokens = new List<string> { UnkToken, BosToken, EosToken };
        var types = new List<int> { TypeControl, TypeControl, TypeControl };
        for (var b = 0; b < 256; b++) { tokens.Add(ByteToUnicode[b]); types.Add(TypeNormal); }
        var known = new HashSet<string>(tokens, StringComparer.Ordinal);
        var merges = new List<string>();

        // Word frequencies after GPT-2 pre-tokenization; each word as a list of byte symbols.
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(TrainingText, PreTokenizerPattern))
        {
            var w = string.Concat(Encoding.UTF8.GetBytes(m.Value).Select(ByteChar));
            words[w] = words.GetValueOrDefault(w) + 1;
        }
        var corpus = words.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: kv.Key.EnumerateRunes().Select(r => r.ToString()).ToList(), Freq: kv.Value)).ToList();

        while (tokens.Count < vocabSize)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, freq) in corpus)
                for (var i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + freq;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First().Key;
            var merged = best.Item1 + best.Item2;
            merges.Add(best.Item1 + " " + best.Item2);
            if (known.Add(merged)) { tokens.Add(merged); types.Add(TypeNormal); }
            foreach (var (symbols, _) in corpus)
                for (var i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
        }
        for (var r = 0; tokens.Count < vocabSize; r++)
        {
            tokens.Add($"<|reserved_{r}|>");
            types.Add(TypeControl);
        }
        return new SyntheticTokenizer(tokens, types, merges);
    }

    /// <summary>HF tokenizers' tokenizer.json (BPE model, byte-level pre-tokenizer and decoder).</summary>
    public string ToTokenizerJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (var id = 0; id < Tokens.Count; id++)
            {
                if (TokenTypes[id] != TypeControl) continue;
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", Tokens[id]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            WriteByteLevel(w, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true);
            WriteByteLevel(w, "post_processor", addPrefixSpace: true, trimOffsets: false);
            WriteByteLevel(w, "decoder", addPrefixSpace: true, trimOffsets: true);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (var id = 0; id < Tokens.Count; id++) w.WriteNumber(Tokens[id], id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var m in Merges) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string name, bool addPrefixSpace, bool trimOffsets)
    {
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }

    public string ToTokenizerConfigJson(int contextLength)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteString("bos_token", BosToken);
            w.WriteString("eos_token", EosToken);
            w.WriteString("unk_token", UnkToken);
            w.WriteNull("pad_token");
            w.WriteNumber("model_max_length", contextLength);
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteStartObject("added_tokens_decoder");
            for (var id = 0; id < Tokens.Count; id++)
            {
                if (TokenTypes[id] != TypeControl) continue;
                w.WriteStartObject(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("content", Tokens[id]);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The GPT-2 split the vocabulary was made with: llama.cpp's "default" is another one.</summary>
    public const string GgufPre = "gpt-2";

    /// <summary>Writes tokenizer.ggml.* keys the way llama.cpp's converter does for a gpt2-style vocab.</summary>
    public void AddToGguf(GgufWriter w, string pre = GgufPre)
    {
        w.AddString("tokenizer.ggml.model", "gpt2");
        w.AddString("tokenizer.ggml.pre", pre);
        w.AddStringArray("tokenizer.ggml.tokens", Tokens);
        w.AddInt32Array("tokenizer.ggml.token_type", TokenTypes);
        w.AddStringArray("tokenizer.ggml.merges", Merges);
        w.AddUInt32("tokenizer.ggml.bos_token_id", BosId);
        w.AddUInt32("tokenizer.ggml.eos_token_id", EosId);
        w.AddUInt32("tokenizer.ggml.unknown_token_id", UnkId);
        w.AddBool("tokenizer.ggml.add_bos_token", true);
        w.AddBool("tokenizer.ggml.add_eos_token", false);
    }
}
