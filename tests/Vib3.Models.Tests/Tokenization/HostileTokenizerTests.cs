using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Formats.Tests;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Tokenizer files of a hostile model: ids far outside the vocabulary, negative ids, ranks that would size a
/// table, duplicate tokens, special files. Each fails with one clean line (XX001 or 22023/54000 for the file itself),
/// quickly and without allocating by the ids the file claims.</summary>
public sealed class HostileTokenizerTests : IDisposable
{
    private const int Vocab = 300;
    private static readonly TokenizerInfo HfInfo = new() { Kind = "hf", Files = ["tokenizer.json", "tokenizer_config.json"] };
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-hostile-tok-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly SyntheticTokenizer _synthetic = SyntheticTokenizer.Build(Vocab);

    public HostileTokenizerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string TokenizerJson => Path.Combine(_dir, "tokenizer.json");

    /// <summary>The synthetic tokenizer.json, edited; <paramref name="byteLevel"/> false drops the ByteLevel parts so the
    /// BPE model is rebuilt SentencePiece-style (the other reader of model.vocab).</summary>
    private void WriteHf(Action<JsonObject> edit, bool byteLevel = true)
    {
        var json = JsonNode.Parse(_synthetic.ToTokenizerJson())!.AsObject();
        if (!byteLevel) json["pre_tokenizer"] = json["decoder"] = json["post_processor"] = null;
        edit(json);
        File.WriteAllText(TokenizerJson, json.ToJsonString());
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), _synthetic.ToTokenizerConfigJson(256));
    }

    /// <summary>Loads and returns the error, checking it is one clean line and that loading allocated little.</summary>
    private static Vib3Exception Refused(Action load, string state, params string[] mentions)
    {
        var (bytes, error) = SpecialFiles.Allocated(load);
        var e = Assert.IsType<Vib3Exception>(error);
        Assert.Equal(state, e.SqlState);
        Assert.DoesNotContain('\n', e.Message);
        foreach (var m in mentions) Assert.Contains(m, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(bytes < 64 << 20, $"allocated {bytes} bytes");
        return e;
    }

    [Theory]
    [InlineData(true, 2147483647L)]  // used to grow a list towards 2^31 entries (~100 MB/s)
    [InlineData(false, 2147483647L)]
    [InlineData(true, -1L)]          // used to be ArgumentOutOfRangeException
    [InlineData(false, -1L)]
    [InlineData(true, 1L << 40)]
    public void A_vocab_id_outside_the_vocabulary_is_refused(bool byteLevel, long id)
    {
        WriteHf(j => j["model"]!["vocab"]!["hostile"] = id, byteLevel);
        Refused(() => TokenizerLoader.Load(_dir, HfInfo), SqlState.DataCorrupted, TokenizerJson, "model.vocab");
    }

    [Theory]
    [InlineData(2147483647L)]
    [InlineData(-7L)]
    public void An_added_token_id_outside_the_vocabulary_is_refused(long id)
    {
        WriteHf(j => j["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = id, ["content"] = "<|hostile|>", ["special"] = true }));
        Refused(() => TokenizerLoader.Load(_dir, HfInfo), SqlState.DataCorrupted, TokenizerJson, "added_tokens", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_token_id_is_checked_against_the_models_own_vocabulary()
    {
        WriteHf(j => j["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = Vocab + 5, ["content"] = "<|late|>", ["special"] = true }));
        Assert.Equal(Vocab + 6, TokenizerLoader.Load(_dir, HfInfo).VocabSize); // fine without the model's size
        Refused(() => TokenizerLoader.Load(_dir, HfInfo, modelVocab: Vocab), SqlState.DataCorrupted,
            $"token id {Vocab + 5}", $"the model's vocabulary of {Vocab} ids");
    }

    [Theory]
    [InlineData("-3")]
    [InlineData("[2, 9999999999]")]
    public void Generation_config_ids_are_checked(string eos)
    {
        WriteHf(_ => { });
        File.WriteAllText(Path.Combine(_dir, "generation_config.json"), "{\"eos_token_id\": " + eos + ", \"bos_token_id\": 1}");
        Refused(() => TokenizerLoader.Load(_dir, HfInfo), SqlState.DataCorrupted, "eos_token_id");
    }

    [Fact]
    public void A_tokenizer_json_that_is_a_fifo_or_a_device_fails_at_once()
    {
        WriteHf(_ => { });
        File.Delete(TokenizerJson);
        SpecialFiles.MakeFifo(TokenizerJson);
        var e = Assert.IsType<Vib3Exception>(SpecialFiles.ThrownWithin(() => TokenizerLoader.Load(_dir, HfInfo)));
        Assert.Contains("a FIFO", e.Message);

        File.Delete(TokenizerJson);
        File.CreateSymbolicLink(TokenizerJson, "/dev/zero");
        Refused(() => TokenizerLoader.Load(_dir, HfInfo), SqlState.InvalidParameterValue, TokenizerJson, "a device");
    }

    // ------------------------------------------------------------ tiktoken (Kimi K2)

    private string WriteTiktoken(string lines, string? addedTokensDecoder = null)
    {
        File.WriteAllText(Path.Combine(_dir, TokenizerLoader.TiktokenFileName), lines);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), "{\"added_tokens_decoder\": {" + addedTokensDecoder + "}}");
        return Path.Combine(_dir, TokenizerLoader.TiktokenFileName);
    }

    [Fact]
    public void A_tiktoken_rank_beyond_the_file_is_refused_without_sizing_a_table_by_it()
    {
        var path = WriteTiktoken("AA== 0\nAQ== 2147483647\n");
        Refused(() => TiktokenModelFile.Read(path), SqlState.DataCorrupted, path, "line 2", "rank 2147483647");
    }

    [Fact]
    public void A_tiktoken_special_token_id_beyond_the_vocabulary_is_refused()
    {
        WriteTiktoken(string.Concat(Enumerable.Range(0, 256).Select(b => $"{System.Convert.ToBase64String([(byte)b])} {b}\n")),
            "\"2147483646\": {\"content\": \"<|far|>\"}");
        Refused(() => TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "hf", Files = [] }), SqlState.DataCorrupted, "2147483646");
    }

    // ------------------------------------------------------------ GGUF tokenizers (gguf-tokenizer.json)

    private string ExportGguf(Action<string>? patch = null)
    {
        var gguf = Path.Combine(_dir, "m.gguf");
        SyntheticModelGenerator.WriteGguf(new SyntheticModelSpec { Family = ModelFamily.Olmoe, Vocab = Vocab, Layers = 1, Dim = 32, ExpertHidden = 32, Experts = 2, TopK = 1 }, gguf);
        patch?.Invoke(gguf);
        var dir = Path.Combine(_dir, "gguf");
        using var reader = GgufCheckpoint.Open(gguf);
        TokenizerExport.Export(reader, dir);
        return dir;
    }

    /// <summary>Makes byte tokens '!' (id 36) and '"' (id 37) both "!" in the GGUF file.</summary>
    private static void DuplicateToken(string gguf)
    {
        var bytes = File.ReadAllBytes(gguf);
        byte[] needle = [1, 0, 0, 0, 0, 0, 0, 0, (byte)'!', 1, 0, 0, 0, 0, 0, 0, 0, (byte)'"'];
        var at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at > 0);
        bytes[at + needle.Length - 1] = (byte)'!';
        File.WriteAllBytes(gguf, bytes);
    }

    [Fact]
    public void Duplicate_gguf_tokens_are_refused_at_conversion_naming_the_ids()
    {
        var e = Assert.Throws<Vib3Exception>(() => ExportGguf(DuplicateToken));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains("token ids 36 and 37", e.Message);
    }

    [Fact]
    public void Duplicate_tokens_in_a_stored_gguf_tokenizer_are_refused_at_load()
    {
        var dir = ExportGguf();
        var file = Path.Combine(dir, TokenizerLoader.GgufFileName);
        var json = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        json["tokenizer.ggml.tokens"]![37] = "!";
        File.WriteAllText(file, json.ToJsonString());
        Refused(() => TokenizerLoader.Load(dir, new TokenizerInfo { Kind = "gguf", Files = [TokenizerLoader.GgufFileName] }),
            SqlState.DataCorrupted, "token ids 36 and 37");
    }

    [Fact]
    public void Gguf_token_types_shorter_than_the_tokens_are_refused()
    {
        var dir = ExportGguf();
        var file = Path.Combine(dir, TokenizerLoader.GgufFileName);
        var json = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        json["tokenizer.ggml.token_type"]!.AsArray().RemoveAt(0);
        File.WriteAllText(file, json.ToJsonString());
        Refused(() => TokenizerLoader.Load(dir, new TokenizerInfo { Kind = "gguf", Files = [TokenizerLoader.GgufFileName] }),
            SqlState.DataCorrupted, "token_type", $"{Vocab - 1} entries for {Vocab} tokens");
    }
}
