using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>The synthetic Kimi vocabulary stored as a Kimi K2 HF folder would be (tiktoken.model,
/// tokenizer_config.json) and loaded through <see cref="TokenizerLoader"/>. Built once per test class.</summary>
public sealed class KimiTiktokenFixture : IDisposable
{
    public KimiTiktokenFixture()
    {
        Dir = Path.Combine(Path.GetTempPath(), "vib3-kimi-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        Ranks = SyntheticTiktoken.Train(merges: 400);
        File.WriteAllText(Path.Combine(Dir, TokenizerLoader.TiktokenFileName), SyntheticTiktoken.ToTiktokenFile(Ranks));
        File.WriteAllText(Path.Combine(Dir, "tokenizer_config.json"), SyntheticTiktoken.ToTokenizerConfig(Ranks.Count));
        Tokenizer = TokenizerLoader.Load(Dir, new TokenizerInfo { Kind = "hf", Files = [TokenizerLoader.TiktokenFileName, "tokenizer_config.json"] });
        RankOf = Ranks.Select((b, i) => (System.Convert.ToBase64String(b), i)).ToDictionary(x => x.Item1, x => x.i, StringComparer.Ordinal);
    }

    public string Dir { get; }
    public List<byte[]> Ranks { get; }
    public int N => Ranks.Count;
    public IReadOnlyDictionary<string, int> RankOf { get; }
    public ITextTokenizer Tokenizer { get; }

    public int Special(string text) => N + SyntheticTiktoken.KimiSpecials.Single(s => s.Text == text).Offset;

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
