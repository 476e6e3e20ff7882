using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Conversion;

/// <summary>A pre-tokenizer vib3 cannot express used to be replaced by GPT-2's split with no trace (other token ids
/// than the model was trained on). Now conversion refuses it with one 0A000 line naming it and the ones vib3 knows,
/// unless the GPT-2 fallback is asked for, and then the manifest records it and `vib3 info` shows it.</summary>
public sealed class PreTokenizerFallbackTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public void Dispose() => _dir.Dispose();

    private CliResult Convert(string path, params string[] extra) => CliRun.Run(Data, ["convert", path, "--name", "m", .. extra]);

    /// <summary>A synthetic HF folder whose tokenizer.json splits with a pre-tokenizer type vib3 does not know.</summary>
    private string HfWithWhitespacePreTokenizer()
    {
        var folder = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var path = Path.Combine(folder, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" };
        File.WriteAllText(path, json.ToJsonString());
        return folder;
    }

    private string GgufWithPre(string pre) => SyntheticCheckpoints.Write(_dir,
        SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32) with { GgufPreTokenizer = pre }, "gguf");

    private void AssertRefused(CliResult r, params string[] mentions)
    {
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        var line = r.Error.Trim();
        Assert.DoesNotContain('\n', line);
        Assert.Contains($"SQLSTATE {SqlState.FeatureNotSupported}", line);
        Assert.Contains("--tokenizer-fallback gpt2", line);
        foreach (var m in mentions) Assert.Contains(m, line);
        Assert.DoesNotContain(new ModelCatalog(Data).List(), x => x.Name == "m");
    }

    private void AssertConvertedWithFallback(CliResult r, string replaced)
    {
        Assert.True(r.ExitCode == 0, r.Error);
        var tokenizer = new ModelCatalog(Data).Get("m").Tokenizer;
        Assert.Equal("gpt2", tokenizer.PreTokenizerFallback);
        Assert.Equal(replaced, tokenizer.UnsupportedPreTokenizer);
        var info = CliRun.Run(Data, "info", "m");
        Assert.Equal(0, info.ExitCode);
        Assert.Contains($"gpt2 fallback: {replaced} is not supported", info.Output);
    }

    [Fact]
    public void Hf_unknown_pre_tokenizer_is_refused_naming_it_and_the_known_ones()
    {
        var folder = HfWithWhitespacePreTokenizer();
        AssertRefused(Convert(folder), Path.Combine(folder, "tokenizer.json"), "pre-tokenizer Whitespace is not supported", "ByteLevel", "Split");
    }

    [Fact]
    public void Hf_unknown_pre_tokenizer_converts_with_the_fallback_and_records_it()
    {
        AssertConvertedWithFallback(Convert(HfWithWhitespacePreTokenizer(), "--tokenizer-fallback", "gpt2"), "pre-tokenizer Whitespace");
    }

    [Fact]
    public void Gguf_unknown_tokenizer_ggml_pre_is_refused_naming_it_and_the_known_ones()
    {
        var file = GgufWithPre("tekken");
        AssertRefused(Convert(file), file, "tokenizer.ggml.pre 'tekken' is not supported", "qwen2", "deepseek-v3");
    }

    [Fact]
    public void Gguf_unknown_tokenizer_ggml_pre_converts_with_the_fallback_and_records_it()
    {
        AssertConvertedWithFallback(Convert(GgufWithPre("tekken"), "--tokenizer-fallback", "gpt2"), "tokenizer.ggml.pre 'tekken'");
    }

    [Fact]
    public void Known_pre_tokenizer_records_no_fallback_even_when_one_is_allowed()
    {
        var folder = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        Assert.Equal(0, Convert(folder, "--tokenizer-fallback", "gpt2").ExitCode);
        var tokenizer = new ModelCatalog(Data).Get("m").Tokenizer;
        Assert.Null(tokenizer.PreTokenizerFallback);
        Assert.DoesNotContain("fallback", CliRun.Run(Data, "info", "m").Output);
    }

    [Fact]
    public void Create_model_takes_the_fallback_as_an_option()
    {
        var folder = HfWithWhitespacePreTokenizer();
        var refused = CliRun.Run(Data, "query", $"CREATE MODEL m FROM '{folder}'");
        Assert.Contains("pre-tokenizer Whitespace is not supported", refused.Error);
        var r = CliRun.Run(Data, "query", $"CREATE MODEL m FROM '{folder}' WITH (tokenizer_fallback = 'gpt2')");
        AssertConvertedWithFallback(r, "pre-tokenizer Whitespace");
    }

    [Fact]
    public void Only_the_gpt2_fallback_exists()
    {
        var r = Convert(HfWithWhitespacePreTokenizer(), "--tokenizer-fallback", "bert");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.InvalidParameterValue}", r.Error);
        Assert.Contains("tokenizer fallback 'bert' is not supported", r.Error);
    }
}
