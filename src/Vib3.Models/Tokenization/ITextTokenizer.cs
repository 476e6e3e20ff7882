namespace Vib3.Models.Tokenization;

/// <summary>Text ⇄ token ids for one stored model. Implementations are immutable and thread-safe.</summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids (the largest id + 1, added tokens included).</summary>
    int VocabSize { get; }

    int? BosId { get; }

    int? EosId { get; }

    /// <summary>Whether the model's own tokenizer prepends BOS to a prompt (tokenizer_config.json add_bos_token,
    /// tokenizer.ggml.add_bos_token, or the family's convention); pass it as <c>addBos</c> to <see cref="Encode"/>.</summary>
    bool AddBosByDefault { get; }

    /// <summary>Encodes <paramref name="text"/>; special tokens written literally in the text (e.g. "&lt;|im_start|&gt;")
    /// become their ids. <paramref name="addBos"/> prepends <see cref="BosId"/> when the tokenizer has one.</summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>Decodes ids to text, special tokens included as their literal text.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>The text of one token on its own. A token that holds only part of a UTF-8 sequence decodes to
    /// U+FFFD here; to stream text, feed ids to a <see cref="StreamingDecoder"/>, which joins such pieces.</summary>
    string DecodeToken(int id);

    /// <summary>The raw bytes a token stands for: possibly an incomplete UTF-8 sequence (byte-level BPE, SentencePiece
    /// byte fallback). Special tokens give the UTF-8 of their literal text.</summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    /// <summary>True for control / special tokens (bos, eos, &lt;|im_start|&gt;, ...).</summary>
    bool IsSpecial(int id);

    /// <summary>True for ids that end a generated turn: eos, eot, &lt;|im_end|&gt;, &lt;|endoftext|&gt;, ...</summary>
    bool IsEndOfGeneration(int id);

    /// <summary>Every id <see cref="IsEndOfGeneration"/> is true for.</summary>
    IReadOnlyCollection<int> EndOfGenerationIds { get; }
}
