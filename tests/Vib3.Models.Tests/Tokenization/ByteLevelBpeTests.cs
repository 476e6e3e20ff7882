using System.Text;
using System.Text.RegularExpressions;
using Vib3.Models.Tokenization;
using Vib3.Synth;

namespace Vib3.Models.Tests.Tokenization;

public sealed class ByteLevelBpeTests : IClassFixture<SyntheticTokenizers>
{
    private readonly SyntheticTokenizers _t;

    public ByteLevelBpeTests(SyntheticTokenizers t) => _t = t;

    public static TheoryData<string> Texts => new()
    {
        "",
        "The quick brown fox jumps over the lazy dog.",
        "Hello, world! 0123456789 3.14 100%",
        "the engine reads a model from disk one expert at a time",
        "日本語のテキスト、中文字符和한국어",
        "emoji 👋🏽 family 👨‍👩‍👧 flag 🇫🇷 done",
        "combining: e\u0301 a\u0308 n\u0303 \u0915\u094D\u0937",
        "  leading, trailing  ",
        "tabs\tand\nnewlines\r\n\n\nand   runs    of     spaces",
        "   ",
        "\n",
        "it's they're we've I'm you'll he'd",
        "<s>special</s> tokens <unk> inline<|reserved_0|>",
        "almost <s special <s> </s",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Hf_round_trips(string text)
    {
        var ids = _t.Hf.Encode(text, addBos: false);
        Assert.Equal(text, _t.Hf.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Hf_and_gguf_give_identical_ids(string text)
    {
        Assert.Equal(_t.Hf.Encode(text, addBos: true), _t.Gguf.Encode(text, addBos: true));
        Assert.Equal(text, _t.Gguf.Decode(_t.Gguf.Encode(text, addBos: false)));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Ids_match_a_reference_bpe(string text)
    {
        Assert.Equal(ReferenceEncode(_t.Synthetic, text), _t.Hf.Encode(text, addBos: false));
    }

    [Fact]
    public void Metadata_matches_the_vocabulary()
    {
        foreach (var tok in new[] { _t.Hf, _t.Gguf })
        {
            Assert.Equal(SyntheticTokenizers.Vocab, tok.VocabSize);
            Assert.Equal(SyntheticTokenizer.BosId, tok.BosId);
            Assert.Equal(SyntheticTokenizer.EosId, tok.EosId);
            Assert.True(tok.AddBosByDefault);
            Assert.True(tok.IsEndOfGeneration(SyntheticTokenizer.EosId));
            Assert.False(tok.IsEndOfGeneration(SyntheticTokenizer.BosId));
            Assert.True(tok.IsSpecial(SyntheticTokenizer.BosId));
            Assert.False(tok.IsSpecial(SyntheticTokenizer.SpecialCount + 'a'));
        }
    }

    [Fact]
    public void Special_tokens_in_text_become_their_ids_and_bos_is_prepended()
    {
        var ids = _t.Hf.Encode("<s>hi</s>", addBos: true);
        Assert.Equal(SyntheticTokenizer.BosId, ids[0]);
        Assert.Equal(SyntheticTokenizer.BosId, ids[1]);
        Assert.Equal(SyntheticTokenizer.EosId, ids[^1]);
        Assert.Equal("<s><s>hi</s>", _t.Hf.Decode(ids));
        var reserved = _t.Synthetic.Tokens.ToList().IndexOf("<|reserved_0|>");
        Assert.Contains(reserved, _t.Hf.Encode("a<|reserved_0|>b", addBos: false));
    }

    [Fact]
    public void Merges_are_used()
    {
        var ids = _t.Hf.Encode("the the the", addBos: false);
        Assert.True(ids.Count < "the the the".Length, $"expected merged tokens, got {ids.Count}");
        Assert.Contains(ids, id => id >= SyntheticTokenizer.SpecialCount + 256);
    }

    [Fact]
    public void DecodeToken_of_a_lone_continuation_byte_is_a_replacement_char()
    {
        var ids = _t.Hf.Encode("世", addBos: false);
        Assert.Equal(3, ids.Count);
        Assert.Equal("\uFFFD", _t.Hf.DecodeToken(ids[0]));
        Assert.Equal([0xE4], _t.Hf.TokenBytes(ids[0]).ToArray());
        Assert.Equal(" ", _t.Hf.DecodeToken(SyntheticTokenizer.SpecialCount + ' '));
    }

    /// <summary>Textbook BPE: GPT-2 pre-tokenization, then repeatedly merge the pair of lowest merge rank.</summary>
    internal static List<int> ReferenceEncode(SyntheticTokenizer vocab, string text)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < vocab.Count; i++) ids.TryAdd(vocab.Tokens[i], i);
        var rank = vocab.Merges.Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i, StringComparer.Ordinal);
        var specials = new Regex(string.Join("|", Enumerable.Range(0, vocab.Count).Where(i => vocab.TokenTypes[i] == SyntheticTokenizer.TypeControl)
            .Select(i => vocab.Tokens[i]).OrderByDescending(s => s.Length).Select(Regex.Escape)));
        var result = new List<int>();
        var at = 0;
        void Ordinary(string s)
        {
            foreach (Match m in Regex.Matches(s, SyntheticTokenizer.PreTokenizerPattern))
            {
                var sym = Encoding.UTF8.GetBytes(m.Value).Select(b => SyntheticTokenizer.ByteChar(b)).ToList();
                while (true)
                {
                    var best = -1;
                    var bestRank = int.MaxValue;
                    for (var i = 0; i + 1 < sym.Count; i++)
                        if (rank.TryGetValue(sym[i] + " " + sym[i + 1], out var r) && r < bestRank) { bestRank = r; best = i; }
                    if (best < 0) break;
                    sym[best] += sym[best + 1];
                    sym.RemoveAt(best + 1);
                }
                result.AddRange(sym.Select(x => ids[x]));
            }
        }
        foreach (Match m in specials.Matches(text))
        {
            Ordinary(text[at..m.Index]);
            result.Add(ids[m.Value]);
            at = m.Index + m.Length;
        }
        Ordinary(text[at..]);
        return result;
    }
}
