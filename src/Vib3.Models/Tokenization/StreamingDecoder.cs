using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>Turns generated ids into text as they arrive. A token may end in the middle of a UTF-8 sequence
/// (byte-level BPE, byte fallback); those bytes are held until the character is complete. Not thread-safe.</summary>
public sealed class StreamingDecoder
{
    private readonly ITextTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly StringBuilder _text = new();
    private char[] _chars = new char[64];

    /// <param name="skipSpecialTokens">Leave special tokens (eos, &lt;|im_end|&gt;, ...) out of the text.</param>
    public StreamingDecoder(ITextTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Everything emitted so far.</summary>
    public string Text => _text.ToString();

    /// <summary>Adds one token; returns the text it completes (empty while a character is still incomplete).</summary>
    public string Push(int id)
    {
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id)) return "";
        return Decode(_tokenizer.TokenBytes(id), flush: false);
    }

    /// <summary>Ends the stream: bytes of a character that never completed come out as U+FFFD.</summary>
    public string Flush() => Decode([], flush: true);

    private string Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        var need = _utf8.GetCharCount(bytes, flush);
        if (need > _chars.Length) _chars = new char[Math.Max(need, _chars.Length * 2)];
        var n = _utf8.GetChars(bytes, _chars, flush);
        if (n == 0) return "";
        var s = new string(_chars, 0, n);
        _text.Append(s);
        return s;
    }
}
