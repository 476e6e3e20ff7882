using Vib3.Convert;
using Vib3.Convert.Formats;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>The synthetic vocabulary stored both ways: an HF folder (tokenizer.json, tokenizer_config.json) and the
/// tokenizer.* metadata of a synthetic GGUF exported by the converter. Built once per test run.</summary>
public sealed class SyntheticTokenizers : IDisposable
{
    public const int Vocab = 1200; // every merge the training text yields (842) plus ~100 reserved control tokens

    public SyntheticTokenizers()
    {
        Root = Path.Combine(Path.GetTempPath(), "vib3-tok-" + Guid.NewGuid().ToString("N"));
        Synthetic = SyntheticTokenizer.Build(Vocab);

        HfDir = Path.Combine(Root, "hf");
        Directory.CreateDirectory(HfDir);
        File.WriteAllText(Path.Combine(HfDir, "tokenizer.json"), Synthetic.ToTokenizerJson());
        File.WriteAllText(Path.Combine(HfDir, "tokenizer_config.json"), Synthetic.ToTokenizerConfigJson(256));
        Hf = TokenizerLoader.Load(HfDir, new TokenizerInfo { Kind = "hf", Files = ["tokenizer.json", "tokenizer_config.json"] });

        var gguf = Path.Combine(Root, "m.gguf");
        SyntheticModelGenerator.WriteGguf(new SyntheticModelSpec { Family = ModelFamily.Olmoe, Vocab = Vocab, Layers = 1, Dim = 32, ExpertHidden = 32, Experts = 2, TopK = 1 }, gguf);
        GgufDir = Path.Combine(Root, "gguf");
        TokenizerInfo info;
        using (var reader = GgufCheckpoint.Open(gguf)) info = TokenizerExport.Export(reader, GgufDir);
        Gguf = TokenizerLoader.Load(GgufDir, info);
    }

    public string Root { get; }
    public SyntheticTokenizer Synthetic { get; }
    public string HfDir { get; }
    public string GgufDir { get; }
    public ITextTokenizer Hf { get; }
    public ITextTokenizer Gguf { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
