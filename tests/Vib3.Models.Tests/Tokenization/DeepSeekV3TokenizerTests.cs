using System.Text.Json;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>A tokenizer.json shaped like deepseek-ai/DeepSeek-V3's: byte-level BPE behind a Sequence of three
/// Isolated Split pre-tokenizers (digit groups, a CJK/kana run, the word pattern) and a ByteLevel step without its
/// own regex; its special tokens at their real ids; tokenizer_config.json with add_bos_token true.</summary>
public sealed class DeepSeekV3TokenizerTests : IDisposable
{
    private const string Bos = "<｜begin▁of▁sentence｜>", Eos = "<｜end▁of▁sentence｜>", User = "<｜User｜>", Assistant = "<｜Assistant｜>";
    private const int UserId = 128803, AssistantId = 128804;

    /// <summary>The pre_tokenizer of DeepSeek-V3's tokenizer.json (JSON text, as the file spells it).</summary>
    public const string PreTokenizerJson = """
        {"type":"Sequence","pretokenizers":[
          {"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},
          {"type":"Split","pattern":{"Regex":"[一-龥぀-ゟ゠-ヿ]+"},"behavior":"Isolated","invert":false},
          {"type":"Split","pattern":{"Regex":"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},
          {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-ds3-" + Guid.NewGuid().ToString("N"));
    private readonly ITextTokenizer _t;

    public DeepSeekV3TokenizerTests()
    {
        Directory.CreateDirectory(_dir);
        var vocab = new Dictionary<string, int> { [Bos] = 0, [Eos] = 1 };
        for (var b = 0; b < 256; b++) vocab[ByteLevelAlphabet.CharOf((byte)b).ToString()] = 2 + b;
        string[] merges = ["1 2", "12 3", "123 4", "H e", "He l", "Hel l", "Hell o", "Ġ W"];
        foreach (var m in merges) vocab.TryAdd(m.Replace(" ", "", StringComparison.Ordinal), vocab.Count);
        vocab[User] = UserId;
        vocab[Assistant] = AssistantId;
        object Added(string content, int id) => new { id, content, single_word = false, lstrip = false, rstrip = false, normalized = true, special = true };
        var tokenizerJson = $$"""
            {"version":"1.0","added_tokens":{{JsonSerializer.Serialize(new[] { Added(Bos, 0), Added(Eos, 1), Added(User, UserId), Added(Assistant, AssistantId) })}},
             "normalizer":null,"pre_tokenizer":{{PreTokenizerJson}},
             "post_processor":{"type":"TemplateProcessing"},"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
             "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,
                      "vocab":{{JsonSerializer.Serialize(vocab)}},"merges":{{JsonSerializer.Serialize(merges)}} }
            }
            """;
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), tokenizerJson);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), JsonSerializer.Serialize(new
        {
            add_bos_token = true,
            add_eos_token = false,
            bos_token = new { __type = "AddedToken", content = Bos, lstrip = false, normalized = true, rstrip = false, single_word = false },
            eos_token = new { __type = "AddedToken", content = Eos, lstrip = false, normalized = true, rstrip = false, single_word = false },
            legacy = true,
            tokenizer_class = "LlamaTokenizerFast",
        }));
        // a stray tiktoken.model must not take over from tokenizer.json
        File.WriteAllText(Path.Combine(_dir, TokenizerLoader.TiktokenFileName), "AA== 0\n");
        _t = TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "hf", Files = ["tokenizer.json", "tokenizer_config.json"] });
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Pieces computed with Python's regex module applying the three Splits in sequence.</summary>
    public static TheoryData<string, string[]> Splits => new()
    {
        { "Hello World", ["Hello", " World"] },
        { "1234567 89", ["123", "456", "7", " ", "89"] },
        { "我爱北京天安门ok", ["我爱北京天安门", "ok"] },
        { "日本語のテキスト", ["日本語のテキスト"] },
        { "it's .NET\n\nfoo(bar)", ["it", "'s", " .", "NET", "\n\n", "foo", "(bar", ")"] },
        { "价格是1234元。", ["价格是", "123", "4", "元", "。"] },
        { "  spaces  x", [" ", " spaces", " ", " x"] },
        { "emoji 👋🏽 done!!", ["emoji", " 👋🏽", " done", "!!"] },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void Pre_tokenizer_sequence_splits_like_deepseek_v3(string text, string[] expected)
    {
        using var doc = JsonDocument.Parse(PreTokenizerJson);
        var (patterns, addPrefixSpace) = TokenizerLoader.HfPreTokenizer(doc.RootElement);
        Assert.Equal(3, patterns.Count); // the ByteLevel step adds no GPT-2 regex (use_regex false)
        Assert.False(addPrefixSpace);
        var split = new SplitPreTokenizer(patterns, []);
        Assert.Equal(expected, split.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length)).ToArray());
        var gguf = new SplitPreTokenizer(PreTokenizerPatterns.ForGgufPre("deepseek-v3")!, []);
        Assert.Equal(expected, gguf.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length)).ToArray());
    }

    [Fact]
    public void Bos_is_added_by_default_and_specials_keep_their_ids()
    {
        Assert.IsType<ByteLevelBpeTextTokenizer>(_t);
        Assert.True(_t.AddBosByDefault);
        Assert.Equal(0, _t.BosId);
        Assert.Equal(1, _t.EosId);
        var ids = _t.Encode($"{User}Hello{Assistant}", _t.AddBosByDefault);
        Assert.Equal(0, ids[0]);
        Assert.Equal(UserId, ids[1]);
        Assert.Equal(AssistantId, ids[^1]);
        Assert.Equal(4, ids.Count); // "Hello" is one merged token
        Assert.Equal($"{Bos}{User}Hello{Assistant}", _t.Decode(ids));
        Assert.True(_t.IsEndOfGeneration(1));
        Assert.False(_t.IsEndOfGeneration(AssistantId));
        Assert.True(_t.IsSpecial(UserId));
    }

    [Fact]
    public void Digit_groups_stop_merges_across_three_digits()
    {
        // "1234" is in the vocabulary, but the \p{N}{1,3} split never lets it form
        var ids = _t.Encode("1234567", addBos: false);
        Assert.Equal(new[] { "123", "456", "7" }.SelectMany(p => _t.Encode(p, false)), ids);
        Assert.Single(_t.Encode("123", false));
        Assert.DoesNotContain(ids, id => _t.DecodeToken(id) == "1234");
        Assert.Equal("1234567", _t.Decode(ids));
    }
}
