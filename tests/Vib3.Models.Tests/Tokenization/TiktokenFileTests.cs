using Vib3.Convert;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>tiktoken.model parsing errors, the loader's choice of it, and its export with a converted model.</summary>
public sealed class TiktokenFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-tik-" + Guid.NewGuid().ToString("N"));

    public TiktokenFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static string Bytes256() => SyntheticTiktoken.ToTiktokenFile(Enumerable.Range(0, 256).Select(b => new[] { (byte)b }));

    private string Write(string content)
    {
        var path = Path.Combine(_dir, TokenizerLoader.TiktokenFileName);
        File.WriteAllText(path, content);
        return path;
    }

    [Theory]
    [InlineData("AA== 0\nAQ== 1\n!!notbase64 2\n", 3, "not base64")]
    [InlineData("AA== 0\nAQ==1\n", 2, "two fields")]
    [InlineData("AA== 0\nAQ== one\n", 2, "rank 'one'")]
    [InlineData("AA== 0\nAQ== -1\n", 2, "rank '-1'")]
    [InlineData("AA== 0\nAQ== 0\n", 2, "rank 0 already")]
    [InlineData("AA== 0\nAA== 1\n", 2, "token bytes already")]
    [InlineData("AA== 0\n 1\n", 2, "two fields")]
    public void Malformed_lines_are_reported_by_number(string content, int line, string what)
    {
        var path = Write(content);
        var e = Assert.Throws<Vib3Exception>(() => TiktokenModelFile.Read(path));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains(path, e.Message);
        Assert.Contains($"line {line}:", e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void A_gap_in_the_ranks_is_reported()
    {
        var path = Write("AA== 0\nAQ== 2\n");
        var e = Assert.Throws<Vib3Exception>(() => TiktokenModelFile.Read(path));
        Assert.Contains("rank 2 is beyond the 2 tokens the file lists", e.Message);
    }

    [Fact]
    public void Empty_lines_are_skipped_and_bytes_kept_by_rank()
    {
        var ranks = TiktokenModelFile.Read(Write("AQ== 1\n\nAA== 0\nAAE= 2\n"));
        Assert.Equal([[0], [1], [0, 1]], ranks);
    }

    [Fact]
    public void Loader_errors_name_the_file()
    {
        Write(Bytes256() + "bad line\n");
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), "{}");
        var e = Assert.Throws<Vib3Exception>(() => TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "hf", Files = [] }));
        Assert.Contains("tiktoken.model: line 257:", e.Message);
    }

    [Fact]
    public void A_special_token_inside_the_ranked_ids_is_rejected()
    {
        Write(Bytes256());
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """{"added_tokens_decoder": {"255": {"content": "[BOS]"}}}""");
        var e = Assert.Throws<Vib3Exception>(() => TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "hf", Files = [] }));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains("'[BOS]' id 255", e.Message);
    }

    [Fact]
    public void Without_a_config_the_reserved_specials_still_fill_256_ids()
    {
        Write(Bytes256());
        var t = TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "hf", Files = [] });
        Assert.Equal(512, t.VocabSize);
        Assert.Null(t.BosId);
        Assert.Equal("<|reserved_token_256|>", t.DecodeToken(256));
        Assert.Equal([104, 105], t.Encode("hi", addBos: true));
    }

    [Fact]
    public void Export_copies_tiktoken_model_and_chat_template_jinja()
    {
        var src = Path.Combine(_dir, "ckpt");
        Directory.CreateDirectory(src);
        WriteEmptySafetensors(Path.Combine(src, "model.safetensors"));
        File.WriteAllText(Path.Combine(src, TokenizerLoader.TiktokenFileName), Bytes256());
        File.WriteAllText(Path.Combine(src, "tokenizer_config.json"), SyntheticTiktoken.ToTokenizerConfig(256));
        File.WriteAllText(Path.Combine(src, "chat_template.jinja"), "{{ messages[0]['content'] }}");
        File.WriteAllText(Path.Combine(src, "tokenization_kimi.py"), "# code is not copied");
        var dest = Path.Combine(_dir, "store", "tokenizer");
        TokenizerInfo info;
        using (var reader = SafetensorsCheckpoint.Open(src)) info = TokenizerExport.Export(reader, dest);

        Assert.Equal("hf", info.Kind);
        Assert.Contains(TokenizerLoader.TiktokenFileName, info.Files);
        Assert.Contains("chat_template.jinja", info.Files);
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, TokenizerLoader.TiktokenFileName)), File.ReadAllBytes(Path.Combine(dest, TokenizerLoader.TiktokenFileName)));
        Assert.False(File.Exists(Path.Combine(dest, "tokenization_kimi.py")));
        var t = TokenizerLoader.Load(dest, info);
        Assert.IsType<TiktokenTextTokenizer>(t);
        Assert.Equal(256 + 2, t.Encode("<|im_end|>", false)[0]);
        Assert.Equal("{{ messages[0]['content'] }}", ChatTemplateSource.Load(dest, info).Template);
    }

    [Fact]
    public void Export_without_any_tokenizer_file_fails()
    {
        var src = Path.Combine(_dir, "bare");
        Directory.CreateDirectory(src);
        WriteEmptySafetensors(Path.Combine(src, "model.safetensors"));
        using var reader = SafetensorsCheckpoint.Open(src);
        var e = Assert.Throws<Vib3Exception>(() => TokenizerExport.Export(reader, Path.Combine(_dir, "out")));
        Assert.Contains("tiktoken.model", e.Message);
    }

    /// <summary>A safetensors file with no tensors: an 8-byte header length and an empty JSON header.</summary>
    private static void WriteEmptySafetensors(string path)
    {
        var header = "{\"__metadata__\":{}}"u8.ToArray();
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((long)header.Length));
        f.Write(header);
    }
}
