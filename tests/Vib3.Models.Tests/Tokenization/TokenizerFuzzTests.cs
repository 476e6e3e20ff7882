using System.Text;
using Vib3.Convert;
using Vib3.Convert.Formats;
using Vib3.Formats.Tests;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Fuzz targets for tokenizer loading (a few seconds each): mutated tokenizer.json / gguf-tokenizer.json must
/// load or fail with a Vib3Exception, allocate a bounded amount, never hang; a tokenizer that loads must also encode
/// and decode a sentence without anything but a Vib3Exception escaping (a bad vocabulary used to load and then fail
/// inside the tokenizer library at the first generation).</summary>
public sealed class TokenizerFuzzTests : IDisposable
{
    private const int Vocab = 300;
    private const long MaxBytesPerCase = 64L << 20;
    private const string Sample = "The quick brown fox: 42 <s> héllo</s>";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-tok-fuzz-" + Guid.NewGuid().ToString("N")[..12]);

    public TokenizerFuzzTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static void Use(ITextTokenizer t)
    {
        var ids = t.Encode(Sample, addBos: true);
        _ = t.Decode(ids);
        foreach (var id in ids) _ = t.DecodeToken(id);
    }

    private void FuzzFile(string file, string original, TokenizerInfo info, int modelVocab)
    {
        var ran = Fuzz.Run(Fuzz.Seed, Fuzz.Budget, Fuzz.MaxCases, MaxBytesPerCase, r =>
        {
            if (r.Next(4) == 0) File.WriteAllBytes(file, Fuzz.MutateBytes(r, Encoding.UTF8.GetBytes(original), original.Length));
            else File.WriteAllText(file, Fuzz.MutateJson(r, original));
            Use(TokenizerLoader.Load(_dir, info, r.Next(2) == 0 ? modelVocab : null));
        });
        Assert.True(ran >= 20, $"only {ran} cases ran");
    }

    [Fact]
    public void Tokenizer_json()
    {
        var synthetic = SyntheticTokenizer.Build(Vocab);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), synthetic.ToTokenizerConfigJson(256));
        FuzzFile(Path.Combine(_dir, "tokenizer.json"), synthetic.ToTokenizerJson(),
            new TokenizerInfo { Kind = "hf", Files = ["tokenizer.json", "tokenizer_config.json"] }, Vocab);
    }

    [Fact]
    public void Gguf_tokenizer_json()
    {
        var gguf = Path.Combine(_dir, "m.gguf");
        SyntheticModelGenerator.WriteGguf(new SyntheticModelSpec { Family = ModelFamily.Olmoe, Vocab = Vocab, Layers = 1, Dim = 32, ExpertHidden = 32, Experts = 2, TopK = 1 }, gguf);
        TokenizerInfo info;
        using (var reader = GgufCheckpoint.Open(gguf)) info = TokenizerExport.Export(reader, _dir);
        var file = Path.Combine(_dir, TokenizerLoader.GgufFileName);
        FuzzFile(file, File.ReadAllText(file), info, Vocab);
    }
}
