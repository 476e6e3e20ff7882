using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Vib3.Models.Tokenization;

/// <summary>SentencePiece (Llama / Mixtral tokenizer.model, GGUF "llama") on Microsoft.ML.Tokenizers'
/// <see cref="SentencePieceTokenizer"/>. Control and user-defined pieces written literally in the text are
/// matched whole.</summary>
public sealed class SentencePieceTextTokenizer : TextTokenizer
{
    private readonly SentencePieceTokenizer _spm;
    private readonly bool[] _special;

    public SentencePieceTextTokenizer(byte[] modelProto, IEnumerable<int> endOfGeneration,
        IReadOnlyList<(string Content, int Id)>? extraSpecialTokens = null, bool addBosByDefault = true, bool? addDummyPrefix = null)
    {
        var model = SentencePieceModelProto.Parse(modelProto);
        if (addDummyPrefix is { } adp && adp != model.AddDummyPrefix)
        {
            model.AddDummyPrefix = adp;
            modelProto = model.ToBytes();
        }
        var size = model.Pieces.Count;
        if (extraSpecialTokens is { Count: > 0 }) size = Math.Max(size, extraSpecialTokens.Max(t => t.Id) + 1);
        var bytes = new byte[size][];
        _special = new bool[size];
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < model.Pieces.Count; id++)
        {
            var (piece, _, type) = model.Pieces[id];
            bytes[id] = PieceBytes(piece, type);
            _special[id] = type is SentencePieceModelProto.Control or SentencePieceModelProto.Unknown;
            if (type is SentencePieceModelProto.Control or SentencePieceModelProto.UserDefined && piece.Length > 0)
                specials.TryAdd(piece, id);
        }
        foreach (var (content, id) in extraSpecialTokens ?? [])
        {
            specials[content] = id;
            bytes[id] = Encoding.UTF8.GetBytes(content);
            _special[id] = true;
        }
        for (var id = 0; id < size; id++) bytes[id] ??= [];

        using var stream = new MemoryStream(modelProto, writable: false);
        _spm = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false,
            specialTokens: specials.Count == 0 ? null : specials);
        SetVocabulary(bytes, model.BosId >= 0 && model.BosId < size ? model.BosId : null, model.EosId >= 0 && model.EosId < size ? model.EosId : null,
            addBosByDefault, endOfGeneration);
        AddDummyPrefix = model.AddDummyPrefix;
    }

    public bool AddDummyPrefix { get; }

    private static byte[] PieceBytes(string piece, int type)
    {
        if (type == SentencePieceModelProto.Byte && piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
            return [b];
        return Encoding.UTF8.GetBytes(type is SentencePieceModelProto.Normal or SentencePieceModelProto.UserDefined
            ? piece.Replace('\u2581', ' ') : piece);
    }

    protected override IReadOnlyList<int> EncodeText(string text) =>
        text.Length == 0 ? [] : _spm.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);

    public override string Decode(IReadOnlyList<int> ids) => _spm.Decode(ids, considerSpecialTokens: true);

    public override bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];
}
