using Vib3.Models.Sampling;

namespace Vib3.Models.Tests.Sampling;

public sealed class StopMatcherTests
{
    private static (string Text, bool Stopped) Run(IReadOnlyList<string> stops, params string[] chunks)
    {
        var m = new StopMatcher(stops);
        var text = "";
        foreach (var c in chunks)
        {
            var (emit, stop) = m.Push(c);
            text += emit;
            if (stop) return (text, true);
        }
        return (text + m.Flush(), false);
    }

    [Fact]
    public void Stop_string_split_across_chunks_is_caught_and_never_emitted()
    {
        Assert.Equal(("Hello", true), Run(["</answer>"], "Hel", "lo</ans", "wer> trailing"));
        Assert.Equal(("a", true), Run(["\n\nUser:"], "a\n", "\nUs", "er:", "more"));
    }

    [Fact]
    public void Partial_prefix_is_held_back_then_released_when_it_diverges()
    {
        var m = new StopMatcher(["STOP"]);
        Assert.Equal(("abc", false), m.Push("abcST"));
        Assert.Equal("ST", m.Pending);
        Assert.Equal(("STx", false), m.Push("x"));
        Assert.Equal(("", false), m.Push("S"));
        Assert.Equal("S", m.Flush());
    }

    [Fact]
    public void Earliest_of_several_stops_wins()
    {
        Assert.Equal(("x", true), Run(["BB", "A"], "xA", "BB"));
        Assert.Equal(("1 ", true), Run(["<|im_end|>", "<|endoftext|>"], "1 <|", "endoftext|> 2 <|im_end|>"));
    }

    [Fact]
    public void After_stop_everything_is_swallowed_and_no_stops_passes_through()
    {
        var m = new StopMatcher(["x"]);
        Assert.Equal(("a", true), m.Push("axb"));
        Assert.Equal(("", true), m.Push("more"));
        Assert.Equal("", m.Flush());
        Assert.Equal(("plain text", false), Run([], "plain ", "text"));
        Assert.Equal(("abab", false), Run(["abc"], "ab", "ab"));
    }
}
