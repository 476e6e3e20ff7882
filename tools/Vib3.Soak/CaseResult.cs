namespace Vib3.Soak;

/// <summary>A case's verdict: what it saw, whether the server survived and answered, and its memory.</summary>
internal sealed record CaseResult(SoakCase Case, Seen Seen, bool Crash, bool Hang, bool Memory, long? RssBefore, long? RssAfter, long PeakRss, TimeSpan Elapsed)
{
    public bool Clean => Seen.Outcome == Outcome.Clean && !Crash && !Hang && !Memory;

    /// <summary>The failures that make the soak exit non-zero; unclean errors are reported but do not.</summary>
    public bool Failed => Crash || Hang || Memory;
}
