using System.Collections.Concurrent;

namespace Vib3.Storage.Device;

/// <summary>
/// A fixed set of threads that run blocking pread/pwrite calls. Dedicated threads (instead of the
/// thread pool) guarantee that N requests are really outstanding on the disk at once and that slow
/// I/O never starves the pool that runs the rest of the engine.
/// </summary>
internal sealed class IoWorkers : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread[] _threads;
    private int _disposed;

    public IoWorkers(int count, string name)
    {
        _threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"vib3-io-{name}-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Queue <paramref name="work"/>; false once the workers are disposed (the caller must complete it).</summary>
    public bool TryEnqueue(Action work)
    {
        try
        {
            _queue.Add(work);
            return true;
        }
        catch (InvalidOperationException) // adding completed, or (ObjectDisposedException) the queue is gone
        {
            return false;
        }
    }

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            // Work items report their own errors; this only keeps a bug in one from killing the process.
            try { work(); }
            catch (Exception) { }
        }
    }

    /// <summary>Run what is queued, then stop the threads. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.CompleteAdding();
        bool onWorker = false;
        foreach (var t in _threads)
            if (t == Thread.CurrentThread) onWorker = true;
            else t.Join();
        // A worker disposing (from a completion callback) still enumerates the queue: leave it to the GC.
        if (!onWorker) _queue.Dispose();
    }
}
