using System.Diagnostics;

namespace Vib3.Models.Weights;

/// <summary>Compute stalled on the tiers: how often and how long the forward pass had nothing to compute on because
/// every page it had asked for was still being read.</summary>
/// <param name="Waits">Times a stream of pages found none of its outstanding reads done.</param>
/// <param name="Seconds">Wall time spent in those waits.</param>
public readonly record struct PageWaitStats(long Waits, double Seconds)
{
    public static PageWaitStats operator -(PageWaitStats a, PageWaitStats b) => new(a.Waits - b.Waits, a.Seconds - b.Seconds);
}

/// <summary>
/// Counts page waits for <see cref="ModelWeights"/>'s streams. A read that completed synchronously (a RAM hit) or that
/// finished while other pages were being computed costs nothing; only time with no page ready is a stall: the number
/// the tiers (cache policy, prefetch, pipelining) exist to drive to zero. Thread-safe.
/// </summary>
internal sealed class PageWaits
{
    private long _waits, _ticks;

    public PageWaitStats Snapshot() =>
        new(Interlocked.Read(ref _waits), (double)Interlocked.Read(ref _ticks) / Stopwatch.Frequency);

    /// <summary>The read's result, timing the wait if it has not completed yet.</summary>
    public ValueTask<T> Await<T>(ValueTask<T> read) => read.IsCompleted ? read : Slow(read);

    /// <summary>Waits for the first of <paramref name="reads"/> to complete, timing the wait if none has yet.</summary>
    public ValueTask<Task<T>> First<T>(List<Task<T>> reads)
    {
        foreach (var read in reads)
            if (read.IsCompleted) return ValueTask.FromResult(read);
        return Slow(new ValueTask<Task<T>>(Task.WhenAny(reads)));
    }

    private async ValueTask<T> Slow<T>(ValueTask<T> read)
    {
        var start = Stopwatch.GetTimestamp();
        try { return await read.ConfigureAwait(false); }
        finally
        {
            Interlocked.Increment(ref _waits);
            Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
        }
    }
}
