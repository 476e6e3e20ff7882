using System.Collections.Concurrent;
using System.Diagnostics;
using Vib3.Core;

namespace Vib3.Kernels.Tests;

/// <remarks>Alone (<see cref="KernelThreadsAlone"/>): the kernel threads are one pool per process, and a test class
/// running beside this one can hand the worker its own job, so the lone-item test would see one thread.</remarks>
[Collection(nameof(KernelThreadsAlone))]
public class ParallelForTests
{
    /// <summary>Each body runs a large (normally multithreaded) product; inside a body it must run on that thread
    /// alone and still give MatMul's exact result.</summary>
    [Fact]
    public void Bodies_run_every_item_once_and_nested_kernels_give_the_same_results()
    {
        var rng = new Random(5);
        const int rows = 256, cols = 1024, n = 8, items = 7;
        var (w, _) = TestData.Weights(rng, DType.F32, rows, cols);
        var x = TestData.Floats(rng, n * cols);
        var expected = new float[n * rows];
        MatMul.Compute(DType.F32, w, rows, cols, x, n, expected);
        var outputs = Enumerable.Range(0, items).Select(_ => new float[n * rows]).ToArray();
        var runs = new int[items];
        KernelThreads.ParallelFor(items, i =>
        {
            Interlocked.Increment(ref runs[i]);
            MatMul.Compute(DType.F32, w, rows, cols, x, n, outputs[i]);
        });
        Assert.All(runs, r => Assert.Equal(1, r));
        Assert.All(outputs, o => Assert.Equal(expected, o));
    }

    [Fact]
    public void The_first_failure_of_a_body_is_rethrown_after_all_items_ran()
    {
        var ran = 0;
        var e = Assert.Throws<InvalidOperationException>(() => KernelThreads.ParallelFor(10, i =>
        {
            Interlocked.Increment(ref ran);
            if (i == 3) throw new InvalidOperationException("item 3");
        }));
        Assert.Equal("item 3", e.Message);
        Assert.Equal(10, ran);
        KernelThreads.ParallelFor(4, _ => { }); // the pool still works
    }

    /// <summary>Ranges cover every item exactly once, whatever the count (1, a few, many), start long and end short
    /// (guided), and a failing body is rethrown after the others ran.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(2048)]
    public void Ranges_cover_every_item_once(int count)
    {
        var runs = new int[count];
        var ranges = new ConcurrentBag<(int Start, int End)>();
        KernelThreads.ParallelForRanges(count, (start, end) =>
        {
            Assert.True(start < end);
            ranges.Add((start, end));
            for (var i = start; i < end; i++) Interlocked.Increment(ref runs[i]);
        });
        Assert.All(runs, r => Assert.Equal(1, r));
        if (count >= 2048) Assert.True(ranges.Max(r => r.End - r.Start) > 1, "a long list is claimed in runs, not item by item");
        var e = Assert.Throws<InvalidOperationException>(() => KernelThreads.ParallelForRanges(count, (start, _) =>
        {
            if (start == 0) throw new InvalidOperationException("first range");
        }));
        Assert.Equal("first range", e.Message);
    }

    /// <summary>A lone item (one page that landed alone) runs on the calling thread with the pool free, so work it
    /// spreads — its kernels, here a nested ParallelFor — reaches every thread, as it would outside; so does a lone
    /// range. Each nested item waits (up to 2 s) for the other thread to join: run inline on one thread, only one
    /// thread is ever seen.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_lone_item_keeps_every_thread_for_the_work_it_spreads(bool ranges)
    {
        if (KernelThreads.Threads < 2) Assert.Skip("one kernel thread: nothing to spread");
        var threads = new ConcurrentDictionary<int, bool>();
        Action spread = () => KernelThreads.ParallelFor(2, _ =>
        {
            threads.TryAdd(Environment.CurrentManagedThreadId, true);
            var clock = Stopwatch.StartNew();
            while (threads.Count < 2 && clock.ElapsedMilliseconds < 2000) Thread.SpinWait(100);
        });
        if (ranges) KernelThreads.ParallelForRanges(1, (_, _) => spread());
        else KernelThreads.ParallelFor(1, _ => spread());
        Assert.Equal(2, threads.Count);
    }
}

/// <summary>Tests that need the process's kernel threads to themselves run in this collection, never beside others.</summary>
[CollectionDefinition(nameof(KernelThreadsAlone), DisableParallelization = true)]
public sealed class KernelThreadsAlone;
