namespace Vib3.Engine.Serving;

/// <summary>The cancellation token of one batched step: it fires at shutdown, or once every sequence in the step has
/// been cancelled, so a forward pass that no one waits for any more stops at its next page instead of running to
/// the end of the step. While other sequences in the step still want their rows it does not fire: the step reads the
/// same weight pages for them anyway, so stopping would save little and throw their finished work away.</summary>
internal sealed class StepCancellation : IDisposable
{
    // Not linked to the shutdown token (a linked source must be disposed, and Check may race with the end of the
    // step); a plain source that is never disposed holds nothing but memory, and the registration below is undone.
    private readonly CancellationTokenSource _source = new();
    private readonly CancellationTokenRegistration _shutdown;
    private readonly Sequence[] _sequences;

    public StepCancellation(IEnumerable<Sequence> sequences, CancellationToken shutdown)
    {
        _sequences = [.. sequences];
        _shutdown = shutdown.UnsafeRegister(s => ((CancellationTokenSource)s!).Cancel(), _source);
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Fires the token when every sequence in the step has been cancelled. Called by whoever cancels (a
    /// client going away), so the cancellation itself runs on the thread pool, not inside the caller.</summary>
    public void Check()
    {
        if (!_source.IsCancellationRequested && _sequences.All(s => s.Cancelled)) _ = _source.CancelAsync();
    }

    public void Dispose() => _shutdown.Dispose();
}
