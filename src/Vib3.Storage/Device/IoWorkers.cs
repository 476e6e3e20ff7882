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

    public IoWorkers(int count, string name)
    {
        _threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"vib3-io-{name}-{i}" };
            _threads[i].Start();
        }
    }

    public void Enqueue(Action work) => _queue.Add(work);

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
            work();
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var t in _threads)
            if (t != Thread.CurrentThread) t.Join();
        _queue.Dispose();
    }
}
