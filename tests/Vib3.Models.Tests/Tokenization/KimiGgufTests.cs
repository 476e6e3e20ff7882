using System.Text.Json;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>A Kimi GGUF stores its vocabulary as tokenizer.ggml.model "gpt2" with pre "kimi-k2": the loader must split
/// with Kimi's regex, so digit runs break into groups of three even when a longer digit token exists.</summary>
public sealed class KimiGgufTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-kgguf-" + Guid.NewGuid().ToString("N"));

    public KimiGgufTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private ITextTokenizer Load(string pre)
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.CharOf((byte)b).ToString()).ToList();
        string[] merges = ["1 2", "12 3", "123 4"];
        tokens.AddRange(["12", "123", "1234", "<|im_end|>", "[EOS]"]);
        var types = Enumerable.Repeat(1, tokens.Count).ToList();
        types[^2] = types[^1] = 3; // control
        var meta = new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = "gpt2",
            ["tokenizer.ggml.pre"] = pre,
            ["tokenizer.ggml.tokens"] = tokens,
            ["tokenizer.ggml.token_type"] = types,
            ["tokenizer.ggml.merges"] = merges,
            ["tokenizer.ggml.eos_token_id"] = tokens.Count - 1,
        };
        File.WriteAllText(Path.Combine(_dir, TokenizerLoader.GgufFileName), JsonSerializer.Serialize(meta));
        return TokenizerLoader.Load(_dir, new TokenizerInfo { Kind = "gguf", Files = [TokenizerLoader.GgufFileName] });
    }

    [Fact]
    public void Kimi_pre_splits_digits_in_threes()
    {
        var t = Load("kimi-k2");
        var ids = t.Encode("1234567", false);
        Assert.Equal(["123", "4", "5", "6", "7"], ids.Select(t.DecodeToken));
        Assert.Equal("1234567", t.Decode(ids));
        Assert.True(t.IsEndOfGeneration(t.Encode("<|im_end|>", false).Single()));
        Assert.True(t.IsEndOfGeneration(t.Encode("[EOS]", false).Single()));
    }

    [Fact]
    public void Gpt2_pre_would_have_merged_the_whole_run()
    {
        // the control case: without Kimi's regex the 4-digit token forms, so the test above can tell them apart
        var t = Load("gpt2");
        Assert.Equal("1234", t.DecodeToken(t.Encode("1234567", false)[0]));
    }
}
