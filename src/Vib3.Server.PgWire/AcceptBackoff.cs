namespace Vib3.Server.PgWire;

/// <summary>How long the accept loop pauses after a failed accept. Accept fails again at once while its cause lasts
/// (EMFILE: the process is out of file descriptors), so retrying without a pause spins a core; the pause doubles
/// from <see cref="Shortest"/> to <see cref="Longest"/> and starts over after an accept succeeds.</summary>
internal sealed class AcceptBackoff
{
    public static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);

    private TimeSpan _next = Shortest;

    /// <summary>The pause before the next try; the one after it is twice as long, up to <see cref="Longest"/>.</summary>
    public TimeSpan Next()
    {
        var pause = _next;
        _next = _next * 2 < Longest ? _next * 2 : Longest;
        return pause;
    }

    public void Reset() => _next = Shortest;
}
