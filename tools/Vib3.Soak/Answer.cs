namespace Vib3.Soak;

/// <summary>How one generation request ended, as its client saw it.</summary>
internal enum Ending
{
    /// <summary>The whole answer: a GENERATE's row(s) and CommandComplete, or HTTP 200 with its body or `[DONE]`.</summary>
    Complete,

    /// <summary>The server ended it with a reason: a Postgres error with a SQLSTATE, or an HTTP error status.</summary>
    Refused,

    /// <summary>The connection or stream was closed before the answer was complete, with no error message.</summary>
    Closed,

    /// <summary>The client's own deadline passed first.</summary>
    TimedOut,
}

/// <param name="Text">The generated text received (all of it, or what arrived before the end).</param>
/// <param name="Pieces">Rows (Postgres STREAM) or text deltas (HTTP stream) received; 1 for a whole answer.</param>
/// <param name="Why">The SQLSTATE and message, HTTP status, or exception for an end other than Complete.</param>
internal sealed record Answer(Ending Ending, string Text, int Pieces, string Why, TimeSpan Elapsed)
{
    public bool Ok => Ending == Ending.Complete;

    /// <summary>The Postgres SQLSTATE of a refusal ("57014"), else "".</summary>
    public string SqlState => Ending == Ending.Refused && Why.Length >= 5 && Why[5..].StartsWith(':') ? Why[..5] : "";
}
