using System.Text;
using Microsoft.ML.Tokenizers;

namespace Vib3.Models.Tokenization;

/// <summary>GPT-2 style byte-level BPE (OLMoE, Qwen2/Qwen3, DeepSeek, GGUF "gpt2"): encoding by
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (ByteLevel mode) over a <see cref="SplitPreTokenizer"/>;
/// decoding straight from each token's bytes, which is exactly what the ByteLevel decoder does.</summary>
public sealed class ByteLevelBpeTextTokenizer : TextTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly bool[] _special;
    private readonly bool _addPrefixSpace;

    /// <param name="tokens">Vocabulary strings by id (byte-level alphabet); null for an unused id.</param>
    /// <param name="merges">Merges in priority order, each "left right".</param>
    /// <param name="addedTokens">Tokens matched whole in the input before pre-tokenization (content, id, special).</param>
    /// <param name="splitPatterns">Pre-tokenizer regexes applied in sequence (.NET syntax).</param>
    public ByteLevelBpeTextTokenizer(IReadOnlyList<string?> tokens, IEnumerable<string> merges,
        IReadOnlyList<(string Content, int Id, bool Special)> addedTokens, IReadOnlyList<string> splitPatterns,
        int? bosId, int? eosId, IEnumerable<int> endOfGeneration, bool addPrefixSpace = false, bool addBosByDefault = false)
    {
        var size = Math.Max(tokens.Count, addedTokens.Count == 0 ? 0 : addedTokens.Max(a => a.Id) + 1);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var bytes = new byte[size][];
        _special = new bool[size];
        for (var id = 0; id < tokens.Count; id++)
        {
            var t = tokens[id];
            if (t is null) continue;
            vocab.TryAdd(t, id);
            bytes[id] = ByteLevelAlphabet.TryGetBytes(t) ?? Encoding.UTF8.GetBytes(t);
        }
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (content, id, special) in addedTokens)
        {
            specials[content] = id;
            vocab.TryAdd(content, id);
            bytes[id] = Encoding.UTF8.GetBytes(content);
            _special[id] = special;
        }
        for (var id = 0; id < size; id++) bytes[id] ??= [];

        PreTokenizer = new SplitPreTokenizer(splitPatterns, specials.Keys);
        _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = specials,
            ByteLevel = true,
            PreTokenizer = PreTokenizer,
        });
        _addPrefixSpace = addPrefixSpace;
        SetVocabulary(bytes, bosId, eosId, addBosByDefault, endOfGeneration);
    }

    public SplitPreTokenizer PreTokenizer { get; }

    protected override IReadOnlyList<int> EncodeText(string text)
    {
        if (_addPrefixSpace && text.Length > 0 && !char.IsWhiteSpace(text[0])) text = " " + text;
        return _bpe.EncodeToIds(text);
    }

    public override string Decode(IReadOnlyList<int> ids) => TokenIds.Decode(ids, Vocabulary);

    public override bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];
}
