using System.Text;
using Vib3.Core;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

public sealed class KimiTiktokenTests : IClassFixture<KimiTiktokenFixture>
{
    private readonly KimiTiktokenFixture _k;

    public KimiTiktokenTests(KimiTiktokenFixture k) => _k = k;

    /// <summary>Pieces computed with Python's regex module from tokenization_kimi.py's pat_str.</summary>
    public static TheoryData<string, string[]> KimiSplits => new()
    {
        { "Hello World", ["Hello", " World"] },
        { "HTTPServer parseJSON camelCase", ["HTTPServer", " parse", "JSON", " camel", "Case"] },
        { "1234567 89", ["123", "456", "7", " ", "89"] },
        { "我爱北京天安门ok", ["我爱北京天安门", "ok"] },
        { "日本語のテキスト", ["日本語", "のテキスト"] },
        { "it's THEY'RE we've", ["it's", " THEY'RE", " we've"] },
        { "emoji 👋🏽 done!!\n\n  x", ["emoji", " 👋🏽", " done", "!!\n\n", " ", " x"] },
        { "中😀文", ["中", "😀", "文"] },
        { "𠀀𠀁!𠀀a", ["𠀀𠀁", "!", "𠀀", "a"] },
        { "  leading\ttab", [" ", " leading", "\ttab"] },
        { "价格是1234元。", ["价格是", "123", "4", "元", "。"] },
        { "Ünïcödé naïve café", ["Ünïcödé", " naïve", " café"] },
        { "x\r\n\r\ny", ["x", "\r\n\r\n", "y"] },
        { "3.14159 + 2", ["3", ".", "141", "59", " +", " ", "2"] },
        { "々〇 漢字かな", ["々〇", " ", "漢字", "かな"] },
        { "😀abc x😀Yes", ["😀abc", " x", "😀Yes"] },
        { "!!😀Hello", ["!!😀", "Hello"] },
    };

    [Theory]
    [MemberData(nameof(KimiSplits))]
    public void Kimi_regex_splits_like_its_pat_str(string text, string[] expected)
    {
        var split = new SplitPreTokenizer([PreTokenizerPatterns.KimiK2], []);
        Assert.Equal(expected, split.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length)).ToArray());
    }

    public static TheoryData<string> Texts => new()
    {
        "",
        "The quick brown fox jumps over the lazy dog.",
        "HTTPServer parseJSON camelCase it's they're",
        "我爱北京天安门。北京是中国的首都。",
        "中文字符和日本語のテキスト、한국어",
        "emoji 👋🏽 family 👨‍👩‍👧 flag 🇫🇷 done",
        "1234567890 digits 3.14159 and 42",
        "tabs\tand\nnewlines\r\n\n\nand   runs    of     spaces  ",
        "Ünïcödé naïve café 𠀀𠀁 rare ideographs",
        "a never-seen word: zyzzyva qwxj",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Round_trips(string text)
    {
        var ids = _k.Tokenizer.Encode(text, addBos: false);
        Assert.Equal(text, _k.Tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, _k.N - 1));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Encodes_like_a_reference_tiktoken_bpe(string text)
    {
        var split = new SplitPreTokenizer([PreTokenizerPatterns.KimiK2], []);
        var expected = split.PreTokenize(text)
            .SelectMany(p => SyntheticTiktoken.ReferenceEncodePiece(Encoding.UTF8.GetBytes(text.Substring(p.Offset, p.Length)), _k.RankOf))
            .ToList();
        Assert.Equal(expected, _k.Tokenizer.Encode(text, addBos: false));
    }

    [Fact]
    public void Learned_merges_are_used()
    {
        // " the" and "北京" occur often enough in the training text to become single tokens
        Assert.Single(_k.Tokenizer.Encode(" the", false));
        Assert.Single(_k.Tokenizer.Encode("北京", false));
        Assert.True(_k.Tokenizer.Encode("The quick brown fox", false).Count < "The quick brown fox".Length);
    }

    [Fact]
    public void Digit_runs_split_in_groups_of_three()
    {
        var ids = _k.Tokenizer.Encode("1234567", false);
        var pieces = ids.Select(_k.Tokenizer.DecodeToken).ToList();
        Assert.Equal("1234567", string.Concat(pieces));
        // no token crosses the 123|456|7 boundaries
        var ends = new List<int>();
        var at = 0;
        foreach (var p in pieces) ends.Add(at += p.Length);
        Assert.Contains(3, ends);
        Assert.Contains(6, ends);
        Assert.Equal("123", pieces[0]); // "123" was learned as one token
    }

    [Fact]
    public void Special_tokens_have_kimi_ids_and_the_reserved_range_fills_the_vocabulary()
    {
        var t = _k.Tokenizer;
        Assert.IsType<TiktokenTextTokenizer>(t);
        Assert.Equal(_k.N + 256, t.VocabSize);
        Assert.Equal(_k.N, t.BosId);
        Assert.Equal(_k.N + 1, t.EosId);
        Assert.Equal("<|im_middle|>", t.DecodeToken(_k.N + 17));
        Assert.Equal($"<|reserved_token_{_k.N + 5}|>", t.DecodeToken(_k.N + 5));
        Assert.True(t.IsSpecial(_k.N));
        Assert.True(t.IsSpecial(_k.N + 255));
        Assert.False(t.IsSpecial(_k.N - 1));
        Assert.False(t.IsSpecial(65));
    }

    [Fact]
    public void Special_tokens_written_in_text_become_their_ids()
    {
        var text = "<|im_user|>user<|im_middle|>Hi 北京<|im_end|><|im_assistant|>assistant<|im_middle|>";
        var ids = _k.Tokenizer.Encode(text, false).ToList();
        Assert.Equal(_k.Special("<|im_user|>"), ids[0]);
        Assert.Equal(_k.Special("<|im_assistant|>"), ids[ids.IndexOf(_k.Special("<|im_end|>")) + 1]);
        Assert.Equal(_k.Special("<|im_middle|>"), ids[^1]);
        Assert.Equal(2, ids.Count(i => i == _k.Special("<|im_middle|>")));
        Assert.Single(ids, _k.Special("<|im_end|>"));
        Assert.Equal(text, _k.Tokenizer.Decode(ids));
        // a reserved name is a special token too; a near miss is ordinary text
        Assert.Equal([_k.N + 5], _k.Tokenizer.Encode($"<|reserved_token_{_k.N + 5}|>", false));
        Assert.All(_k.Tokenizer.Encode("<|im_end|", false), id => Assert.True(id < _k.N));
    }

    [Fact]
    public void End_of_generation_is_eos_and_im_end()
    {
        var t = _k.Tokenizer;
        Assert.True(t.IsEndOfGeneration(_k.Special("[EOS]")));
        Assert.True(t.IsEndOfGeneration(_k.Special("<|im_end|>")));
        Assert.False(t.IsEndOfGeneration(_k.Special("[BOS]")));
        Assert.False(t.IsEndOfGeneration(_k.Special("<|im_middle|>")));
        Assert.False(t.IsEndOfGeneration(t.Encode(".", false)[0]));
    }

    [Fact]
    public void Bos_only_on_request()
    {
        var t = _k.Tokenizer;
        Assert.False(t.AddBosByDefault);
        Assert.NotEqual(_k.N, t.Encode("Hi", addBos: false)[0]);
        Assert.Equal(_k.N, t.Encode("Hi", addBos: true)[0]);
    }

    [Fact]
    public void Streaming_decode_joins_split_characters_and_skips_specials()
    {
        const string text = "中文 😀 naïve 𠀀 done";
        var ids = new List<int> { _k.Special("<|im_assistant|>") };
        ids.AddRange(_k.Tokenizer.Encode(text, false));
        ids.Add(_k.Special("<|im_end|>"));
        var stream = new StreamingDecoder(_k.Tokenizer);
        var pushed = new StringBuilder();
        foreach (var id in ids)
        {
            var s = stream.Push(id);
            Assert.DoesNotContain('\uFFFD', s);
            pushed.Append(s);
        }
        pushed.Append(stream.Flush());
        Assert.Equal(text, pushed.ToString());
        Assert.Equal(text, stream.Text);
    }

    [Fact]
    public void Gguf_pre_names_pick_the_family_regex()
    {
        Assert.Equal([PreTokenizerPatterns.KimiK2], PreTokenizerPatterns.ForGgufPre("kimi-k2"));
        Assert.Equal(PreTokenizerPatterns.DeepSeekV3, PreTokenizerPatterns.ForGgufPre("deepseek-v3"));
    }
}
