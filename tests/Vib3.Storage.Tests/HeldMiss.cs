namespace Vib3.Storage.Tests;

/// <summary>Holds the first read that misses the cache between its cache check and the step that joins or starts a
/// load, until the test releases it; later misses go straight on.</summary>
internal sealed class HeldMiss : IPageMissObserver
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _misses;

    public void Release() => _released.TrySetResult();

    public ValueTask MissedAsync(int page) =>
        Interlocked.Increment(ref _misses) == 1 ? new ValueTask(_released.Task) : ValueTask.CompletedTask;
}
