namespace Vib3.Models.Sampling;

/// <summary>Finds stop strings in streamed text. Text that could still turn out to be the start of a stop string is
/// held back until it cannot; text from a stop string on is never emitted. Not thread-safe.</summary>
public sealed class StopMatcher
{
    private readonly string[] _stops;
    private string _held = "";
    private bool _stopped;

    public StopMatcher(IReadOnlyList<string> stopStrings)
    {
        ArgumentNullException.ThrowIfNull(stopStrings);
        _stops = stopStrings.Where(s => !string.IsNullOrEmpty(s)).Distinct(StringComparer.Ordinal).ToArray();
    }

    public bool Stopped => _stopped;

    /// <summary>Text held back because it may begin a stop string.</summary>
    public string Pending => _held;

    /// <summary>Adds streamed text. Returns what is safe to show, and whether a stop string was reached (then
    /// <c>emit</c> is the text before it and every later push returns ("", true)).</summary>
    public (string emit, bool stop) Push(string text)
    {
        if (_stopped) return ("", true);
        var buffer = _held + text;
        var first = -1;
        foreach (var s in _stops)
        {
            var i = buffer.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0)
        {
            _stopped = true;
            _held = "";
            return (buffer[..first], true);
        }
        var hold = 0;
        foreach (var s in _stops)
            for (var len = Math.Min(s.Length - 1, buffer.Length); len > hold; len--)
                if (buffer.AsSpan(buffer.Length - len).SequenceEqual(s.AsSpan(0, len))) { hold = len; break; }
        _held = buffer[(buffer.Length - hold)..];
        return (buffer[..(buffer.Length - hold)], false);
    }

    /// <summary>End of generation: the held-back text was not a stop string after all.</summary>
    public string Flush()
    {
        if (_stopped) return "";
        var s = _held;
        _held = "";
        return s;
    }
}
