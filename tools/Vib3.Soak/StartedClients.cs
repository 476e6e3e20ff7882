namespace Vib3.Soak;

/// <summary>Counts clients as they receive their first piece of text, and completes when all of them have, without
/// blocking a thread to wait (the soak's own thread pool is small on 2 cores, and its clients need it).</summary>
internal sealed class StartedClients(int clients)
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _clients = clients;
    private int _waiting = clients;

    public int Started => _clients - Volatile.Read(ref _waiting);

    /// <summary>A client's onPiece callback: counts it once, at its first piece.</summary>
    public Action OnFirstPiece()
    {
        var fired = 0;
        return () =>
        {
            if (Interlocked.Exchange(ref fired, 1) == 0 && Interlocked.Decrement(ref _waiting) == 0) _all.TrySetResult();
        };
    }

    /// <summary>True when every client started within <paramref name="deadline"/>.</summary>
    public async Task<bool> AllAsync(TimeSpan deadline, CancellationToken ct)
    {
        try
        {
            await _all.Task.WaitAsync(deadline, ct);
            return true;
        }
        catch (TimeoutException) { return false; }
    }
}
