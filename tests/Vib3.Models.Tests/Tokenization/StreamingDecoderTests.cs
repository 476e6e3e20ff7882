using System.Text;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

public sealed class StreamingDecoderTests : IClassFixture<SyntheticTokenizers>
{
    private readonly SyntheticTokenizers _t;

    public StreamingDecoderTests(SyntheticTokenizers t) => _t = t;

    [Theory]
    [InlineData("日本語 and 中文")]
    [InlineData("emoji 👋🏽 family 👨‍👩‍👧!")]
    [InlineData("e\u0301 a\u0308 plain ascii")]
    public void Multi_byte_characters_split_across_tokens_come_out_whole(string text)
    {
        var ids = _t.Hf.Encode(text, addBos: false);
        var dec = new StreamingDecoder(_t.Hf);
        var pieces = new List<string>();
        var heldSomewhere = false;
        foreach (var id in ids)
        {
            var piece = dec.Push(id);
            heldSomewhere |= piece.Length == 0;
            Assert.DoesNotContain('\uFFFD', piece);
            pieces.Add(piece);
        }
        pieces.Add(dec.Flush());
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(text, dec.Text);
        if (Encoding.UTF8.GetByteCount(text) > text.Length) Assert.True(heldSomewhere, "a multi-byte character should have spanned tokens");
    }

    [Fact]
    public void Emoji_surrogate_pair_is_emitted_only_when_complete()
    {
        var ids = _t.Hf.Encode("👋", addBos: false);
        Assert.Equal(4, ids.Count);
        var dec = new StreamingDecoder(_t.Hf);
        Assert.Equal("", dec.Push(ids[0]));
        Assert.Equal("", dec.Push(ids[1]));
        Assert.Equal("", dec.Push(ids[2]));
        Assert.Equal("👋", dec.Push(ids[3]));
    }

    [Fact]
    public void Special_tokens_are_skipped_unless_asked_for_and_a_truncated_char_flushes_as_replacement()
    {
        var ids = _t.Hf.Encode("<s>hi</s>", addBos: false);
        var skip = new StreamingDecoder(_t.Hf);
        foreach (var id in ids) skip.Push(id);
        Assert.Equal("hi", skip.Text);
        var keep = new StreamingDecoder(_t.Hf, skipSpecialTokens: false);
        foreach (var id in ids) keep.Push(id);
        Assert.Equal("<s>hi</s>", keep.Text);

        var partial = new StreamingDecoder(_t.Hf);
        Assert.Equal("", partial.Push(_t.Hf.Encode("世", false)[0]));
        Assert.Equal("\uFFFD", partial.Flush());
    }
}
