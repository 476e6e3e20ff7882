using System.Text;
using Microsoft.ML.Tokenizers;

namespace Vib3.Models.Tokenization;

/// <summary>tiktoken-style byte-level BPE (Kimi K2's tiktoken.model): encoding by Microsoft.ML.Tokenizers'
/// <see cref="TiktokenTokenizer"/> over a <see cref="SplitPreTokenizer"/> (special tokens cut out whole, then the
/// model's split regex); decoding straight from each id's bytes. Ids above the ranked tokens are the special tokens.</summary>
public sealed class TiktokenTextTokenizer : TextTokenizer
{
    private readonly TiktokenTokenizer _tiktoken;
    private readonly int _rankedCount;

    /// <param name="modelPath">The tiktoken file, already validated into <paramref name="ranked"/>.</param>
    /// <param name="ranked">Token bytes by rank (= id), from <see cref="TiktokenModelFile.Read"/>.</param>
    /// <param name="specialTokens">Special tokens by text, with ids at or above <c>ranked.Length</c>.</param>
    /// <param name="splitPattern">The pre-tokenizer regex (.NET syntax).</param>
    public TiktokenTextTokenizer(string modelPath, byte[][] ranked, IReadOnlyDictionary<string, int> specialTokens,
        string splitPattern, int? bosId, int? eosId, IEnumerable<int> endOfGeneration, bool addBosByDefault)
    {
        _rankedCount = ranked.Length;
        var size = Math.Max(ranked.Length, specialTokens.Count == 0 ? 0 : specialTokens.Values.Max() + 1);
        var bytes = new byte[size][];
        Array.Copy(ranked, bytes, ranked.Length);
        foreach (var (text, id) in specialTokens)
        {
            if (id < ranked.Length)
                throw new ArgumentException($"special token '{text}' has id {id}, inside the {ranked.Length} ranked tokens", nameof(specialTokens));
            bytes[id] = Encoding.UTF8.GetBytes(text);
        }
        for (var id = 0; id < size; id++) bytes[id] ??= [];

        PreTokenizer = new SplitPreTokenizer([splitPattern], specialTokens.Keys);
        _tiktoken = TiktokenTokenizer.Create(modelPath, PreTokenizer, normalizer: null, specialTokens: specialTokens);
        SetVocabulary(bytes, bosId, eosId, addBosByDefault, endOfGeneration);
    }

    public SplitPreTokenizer PreTokenizer { get; }

    protected override IReadOnlyList<int> EncodeText(string text) => _tiktoken.EncodeToIds(text);

    public override string Decode(IReadOnlyList<int> ids) => TokenIds.Decode(ids, Vocabulary);

    public override bool IsSpecial(int id) => id >= _rankedCount && id < VocabSize;
}
