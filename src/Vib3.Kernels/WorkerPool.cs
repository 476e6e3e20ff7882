using System.Diagnostics;

namespace Vib3.Kernels;

/// <summary>A unit of work split into chunks of an index range, claimed dynamically by the calling thread and the
/// pool's workers. A worker touches the job's data only after claiming a chunk, and chunks run out before the
/// caller returns, so a worker that wakes late never sees freed (unpinned) memory.</summary>
internal abstract class PoolJob
{
    private int _next;
    private int _done;
    internal int Total;
    internal int Chunk;

    /// <summary>Guided scheduling when &gt; 0: each claim takes max(<see cref="Chunk"/>, remaining / Guide) items, so
    /// the first chunks are long contiguous runs and the last ones are small. A thread that is preempted or wakes late
    /// (two vCPUs shared with the JIT, the GC or another process) then holds back at most a small tail chunk instead
    /// of a fixed 1/(4·threads) of the job while the caller spins.</summary>
    internal int Guide;

    /// <summary>Runs work items [start, end).</summary>
    protected abstract void Run(int start, int end);

    internal void Work()
    {
        while (true)
        {
            int s, e;
            if (Guide > 0)
            {
                s = Volatile.Read(ref _next);
                while (true)
                {
                    if (s >= Total) return;
                    e = Math.Min(Total, s + Math.Max(Chunk, (Total - s) / Guide));
                    var seen = Interlocked.CompareExchange(ref _next, e, s);
                    if (seen == s) break;
                    s = seen;
                }
            }
            else
            {
                s = Interlocked.Add(ref _next, Chunk) - Chunk;
                if (s >= Total) return;
                e = Math.Min(s + Chunk, Total);
            }
            Run(s, e);
            Interlocked.Add(ref _done, e - s);
        }
    }

    internal bool Finished => Volatile.Read(ref _done) >= Total;
}

/// <summary>Persistent kernel threads: <see cref="Threads"/> − 1 background workers plus the calling thread.
/// Workers spin for <see cref="SpinMicroseconds"/> after their last job (a decode step issues matvecs back to back,
/// so a hot worker picks the next one up in well under a microsecond), then sleep on a semaphore.</summary>
public static class KernelThreads
{
    private static readonly object Gate = new();
    private static Worker[] _workers = [];
    private static PoolJob? _current;
    private static int _threads = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Threads (including the caller) used by the multithreaded kernels; default: processor count.</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = Math.Max(1, value);
    }

    /// <summary>How long an idle worker busy-waits for the next job before it sleeps.</summary>
    public static int SpinMicroseconds { get; set; } = 100;

    private sealed class Worker
    {
        internal int Sleeping;
        internal readonly SemaphoreSlim Wake = new(0);
    }

    /// <summary>True on a thread running a <see cref="ParallelFor"/> body: kernels it calls run on that thread alone.</summary>
    [ThreadStatic] private static bool _inParallelBody;

    /// <summary>Runs body(0..count-1) spread over the kernel threads, one item per claim: coarse work (a whole weight
    /// page each) that keeps every thread busy without a dispatch per small product. Kernels called from a body
    /// run single-threaded on its thread, except when there is one item: it runs on the calling thread and its
    /// kernels spread over all the threads as they would outside. The first exception of any body is rethrown here,
    /// after all have run.</summary>
    public static void ParallelFor(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 && !_inParallelBody)
        {
            body(0);
            return;
        }
        var job = new ForJob(body) { Total = count, Chunk = 1 };
        if (_threads == 1 || _inParallelBody) job.Work();
        else Run(job);
        if (job.Error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    /// <summary>Runs body(start, end) over ranges that cover 0..count-1, spread over the kernel threads with guided
    /// scheduling (long runs first, single items last): for many small items whose body shares setup across a run
    /// (scratch rented once, not per item). Kernels called from a body run single-threaded on its thread, except when
    /// there is one item, as in <see cref="ParallelFor"/>. The first exception of any body is rethrown here, after all
    /// have run.</summary>
    public static void ParallelForRanges(int count, Action<int, int> body)
    {
        if (count <= 0) return;
        if (count == 1 && !_inParallelBody)
        {
            body(0, 1);
            return;
        }
        var job = new ForJob(body) { Total = count, Chunk = 1, Guide = 4 * _threads };
        if (_threads == 1 || _inParallelBody) job.Work();
        else Run(job);
        if (job.Error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    private sealed class ForJob(Action<int, int> range) : PoolJob
    {
        internal Exception? Error;

        public ForJob(Action<int> body) : this((start, end) =>
        {
            for (var i = start; i < end; i++) body(i);
        })
        {
        }

        protected override void Run(int start, int end)
        {
            var outer = _inParallelBody;
            _inParallelBody = true;
            try
            {
                range(start, end);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref Error, e, null);
            }
            finally
            {
                _inParallelBody = outer;
            }
        }
    }

    /// <summary>Runs <paramref name="job"/> on the caller plus up to Threads − 1 workers; returns when every chunk is done.</summary>
    internal static void Run(PoolJob job)
    {
        if (_inParallelBody)
        {
            job.Work(); // inside a ParallelFor body: this thread does it all
            return;
        }
        var workers = EnsureWorkers();
        Interlocked.Exchange(ref _current, job);
        foreach (var w in workers)
            if (Interlocked.Exchange(ref w.Sleeping, 0) == 1)
                w.Wake.Release();
        job.Work();
        var spin = new SpinWait();
        while (!job.Finished) spin.SpinOnce(sleep1Threshold: -1);
    }

    private static Worker[] EnsureWorkers()
    {
        var want = _threads - 1;
        var ws = Volatile.Read(ref _workers);
        if (ws.Length >= want) return ws;
        lock (Gate)
        {
            ws = _workers;
            if (ws.Length >= want) return ws;
            var grown = new Worker[want];
            Array.Copy(ws, grown, ws.Length);
            for (var i = ws.Length; i < want; i++)
            {
                var w = grown[i] = new Worker();
                new Thread(() => Loop(w)) { IsBackground = true, Name = $"vib3-kernel-{i + 1}" }.Start();
            }
            Volatile.Write(ref _workers, grown);
            return grown;
        }
    }

    private static void Loop(Worker self)
    {
        PoolJob? seen = null;
        var ticksPerUs = Stopwatch.Frequency / 1_000_000.0;
        while (true)
        {
            var idleSince = Stopwatch.GetTimestamp();
            var spinTicks = (long)(SpinMicroseconds * ticksPerUs);
            PoolJob? job;
            while ((job = Volatile.Read(ref _current)) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince > spinTicks)
                {
                    Interlocked.Exchange(ref self.Sleeping, 1);
                    if (Volatile.Read(ref _current) != seen)
                    {
                        // A job arrived while registering: if the publisher already claimed our flag it will
                        // Release once, so consume that to keep the semaphore balanced.
                        if (Interlocked.Exchange(ref self.Sleeping, 0) == 0) self.Wake.Wait();
                    }
                    else
                    {
                        self.Wake.Wait();
                    }
                    idleSince = Stopwatch.GetTimestamp();
                    continue;
                }
                Thread.SpinWait(20);
            }
            seen = job;
            job?.Work();
        }
    }
}
