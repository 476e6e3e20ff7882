using System.Text;
using Vib3.Core;
using Vib3.Models.Tokenization;

namespace Vib3.Engine.Serving;

/// <summary>Refuses a prompt too long for the context before tokenizing it. Every token stands for at most
/// <see cref="LongestTokenBytes"/> bytes of text, so a prompt of B UTF-8 bytes needs at least B / longest tokens;
/// when even that exceeds the context, tokenizing (whose memory grows with the text) would only confirm the refusal.
/// A prompt that passes is at most context × longest bytes, which bounds what tokenizing it costs.</summary>
/// <remarks>A tokenizer that shrinks text before encoding it (collapsing whitespace, or one unknown token for a run of
/// unknown characters) could fit such a prompt after all; only text of more than context × longest bytes is
/// refused on this bound, which no such prompt reaches by accident.</remarks>
internal sealed class PromptBound
{
    private PromptBound(int longestTokenBytes) => LongestTokenBytes = longestTokenBytes;

    /// <summary>The most text bytes one token stands for: its bytes (a special token's literal text), at least 1.</summary>
    public int LongestTokenBytes { get; }

    public static PromptBound Of(ITextTokenizer tokenizer)
    {
        var longest = 1;
        for (var id = 0; id < tokenizer.VocabSize; id++) longest = Math.Max(longest, tokenizer.TokenBytes(id).Length);
        return new PromptBound(longest);
    }

    /// <summary>Throws 54000 when <paramref name="text"/> cannot fit <paramref name="context"/> tokens whatever its
    /// tokens turn out to be; counting its bytes allocates nothing. <paramref name="contextName"/> says whose context
    /// it is ("model 'm''s context", or the engine's limit).</summary>
    public void Check(string text, int context, string model, string contextName)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        var fewest = (bytes + (long)LongestTokenBytes - 1) / LongestTokenBytes;
        if (fewest > context)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"the prompt is {bytes} bytes, so at least {fewest} tokens (no token of model '{model}' is longer than "
                + $"{LongestTokenBytes} bytes), more than {contextName} of {context} tokens");
    }
}
