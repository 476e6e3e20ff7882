namespace Vib3.Models.Tokenization;

/// <summary>What every tokenizer keeps the same way: its size, BOS and EOS, whether prompts start with BOS, which ids
/// end a generated turn, and BOS placed in front of an encoding. Byte-level BPE, SentencePiece and tiktoken supply the
/// encoding itself (<see cref="EncodeText"/>), the bytes each token stands for and which tokens are special.</summary>
public abstract class TextTokenizer : ITextTokenizer
{
    private HashSet<int> _endOfGeneration = [];

    /// <summary>The bytes each id stands for [VocabSize] (special tokens: their text's UTF-8; unused ids: none).</summary>
    protected byte[][] Vocabulary { get; private set; } = [];

    public int VocabSize { get; private set; }

    public int? BosId { get; private set; }

    public int? EosId { get; private set; }

    public bool AddBosByDefault { get; private set; }

    /// <summary>Set once, by the constructor, when the vocabulary is known: the ids are those of
    /// <paramref name="vocabulary"/>; BOS is prepended by default only when the tokenizer asks for it and has one; EOS
    /// and the listed ids end a generated turn.</summary>
    protected void SetVocabulary(byte[][] vocabulary, int? bosId, int? eosId, bool addBosByDefault, IEnumerable<int> endOfGeneration)
    {
        Vocabulary = vocabulary;
        var vocabSize = vocabulary.Length;
        VocabSize = vocabSize;
        BosId = bosId;
        EosId = eosId;
        AddBosByDefault = addBosByDefault && bosId is not null;
        _endOfGeneration = TokenIds.EndOfGeneration(endOfGeneration, eosId, vocabSize);
    }

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TokenIds.WithBos(EncodeText(text), addBos, BosId);
    }

    /// <summary>The ids of <paramref name="text"/>, no BOS.</summary>
    protected abstract IReadOnlyList<int> EncodeText(string text);

    public abstract string Decode(IReadOnlyList<int> ids);

    public string DecodeToken(int id) => System.Text.Encoding.UTF8.GetString(TokenBytes(id));

    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)Vocabulary.Length ? Vocabulary[id] : [];

    public abstract bool IsSpecial(int id);

    public bool IsEndOfGeneration(int id) => _endOfGeneration.Contains(id);

    public IReadOnlyCollection<int> EndOfGenerationIds => _endOfGeneration;
}
