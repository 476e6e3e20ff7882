using System.Text.Json;
using Vib3.Core;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>A small Llama-style SentencePiece BPE vocabulary (control tokens, 256 byte-fallback pieces, letters,
/// a few merges) stored as GGUF "llama" metadata and as an SPM-style tokenizer.json (Metaspace, byte fallback).</summary>
public sealed class SentencePieceTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vib3-spm-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _tokens = ["<unk>", "<s>", "</s>"];
    private readonly List<int> _types = [2, 3, 3];
    private readonly List<float> _scores = [0, 0, 0];
    private readonly string[] _merges = ["▁ t", "h e", "▁t he", "▁ a", "▁ w", "o r", "▁w or", "l d", "▁wor ld", "▁ i", "i s"];

    public SentencePieceTests()
    {
        for (var b = 0; b < 256; b++) Add($"<0x{b:X2}>", 6, 0);
        Add("▁", 1, -1000);
        foreach (var c in "abcdefghijklmnopqrstuvwxyzHTW.,!?'") Add(c.ToString(), 1, -1000 - _tokens.Count);
        for (var i = 0; i < _merges.Length; i++) Add(_merges[i].Replace(" ", ""), 1, -i);
        Directory.CreateDirectory(_root);
    }

    private void Add(string piece, int type, float score)
    {
        _tokens.Add(piece);
        _types.Add(type);
        _scores.Add(score);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private ITextTokenizer Gguf(string model = "llama")
    {
        var dir = Path.Combine(_root, "gguf-" + model);
        Directory.CreateDirectory(dir);
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = model,
            ["tokenizer.ggml.tokens"] = _tokens,
            ["tokenizer.ggml.token_type"] = _types,
            ["tokenizer.ggml.scores"] = _scores,
            ["tokenizer.ggml.bos_token_id"] = 1,
            ["tokenizer.ggml.eos_token_id"] = 2,
            ["tokenizer.ggml.unknown_token_id"] = 0,
            ["tokenizer.ggml.add_bos_token"] = true,
        });
        File.WriteAllText(Path.Combine(dir, TokenizerLoader.GgufFileName), json);
        return TokenizerLoader.Load(dir, new TokenizerInfo { Kind = "gguf", Files = [TokenizerLoader.GgufFileName] });
    }

    private ITextTokenizer HfSpmStyle()
    {
        var dir = Path.Combine(_root, "hf");
        Directory.CreateDirectory(dir);
        var json = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = Enumerable.Range(0, 3).Select(i => new Dictionary<string, object> { ["id"] = i, ["content"] = _tokens[i], ["special"] = true }).ToList(),
            ["normalizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["normalizers"] = new object[]
                {
                    new Dictionary<string, object> { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new Dictionary<string, object> { ["type"] = "Replace", ["pattern"] = new Dictionary<string, string> { ["String"] = " " }, ["content"] = "▁" },
                },
            },
            ["pre_tokenizer"] = null,
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "BPE", ["unk_token"] = "<unk>", ["byte_fallback"] = true,
                ["vocab"] = _tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i),
                ["merges"] = _merges,
            },
        });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        return TokenizerLoader.Load(dir, new TokenizerInfo { Kind = "hf", Files = ["tokenizer.json", "tokenizer_config.json"] });
    }

    public static TheoryData<string> Texts => new()
    {
        "Hello world",
        "the world is a world",
        "日本語 👋🏽 e\u0301",
        "two  spaces and\nnewline",
        "Hi</s>",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Gguf_llama_round_trips_with_byte_fallback(string text)
    {
        var tok = Gguf();
        var ids = tok.Encode(text, addBos: false);
        Assert.Equal(text, tok.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Hf_spm_style_tokenizer_json_gives_the_same_ids_as_gguf(string text)
    {
        Assert.Equal(Gguf().Encode(text, addBos: true), HfSpmStyle().Encode(text, addBos: true));
    }

    [Fact]
    public void Merges_by_score_and_dummy_prefix()
    {
        var tok = Gguf();
        var ids = tok.Encode("the world", addBos: true);
        Assert.Equal([1, _tokens.IndexOf("▁the"), _tokens.IndexOf("▁world")], ids);
        Assert.True(tok.AddBosByDefault);
        Assert.Equal(" world", tok.DecodeToken(ids[2]));
        var cjk = tok.Encode("日", addBos: false);
        Assert.Contains(_tokens.IndexOf("<0xE6>"), cjk);
        Assert.Equal([0xE6], tok.TokenBytes(_tokens.IndexOf("<0xE6>")).ToArray());
        Assert.True(tok.IsEndOfGeneration(2));
        Assert.True(tok.IsSpecial(1));
    }

    [Fact]
    public void Unsupported_gguf_tokenizer_model_is_reported()
    {
        var e = Assert.Throws<Vib3Exception>(() => Gguf("rwkv"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("tokenizer model rwkv is not supported", e.Message);
    }
}
