using Vib3.Core;

namespace Vib3.Storage.Tests;

/// <summary>The RAM budget as a hard limit, one disk read per page, and Dispose with reads in flight.</summary>
public class BudgetAndLifetimeTests
{
    private const int PageLen = 50_000;
    private static readonly long Charge = PageStore.PageCharge(PageLen); // what one page costs the budget

    /// <summary>Pages of exactly <see cref="PageLen"/> bytes, a cache with room for <paramref name="cachePages"/> of them.</summary>
    private static (TempStore Store, PageStore Pages) Open(int cachePages, int count = 10, IStoreDevices? devices = null)
    {
        var store = new TempStore().Write(count: count, minLen: PageLen, maxLen: PageLen, seed: 61);
        var pages = store.Open(ramBudget: PageStore.RamBudgetFor(cachePages, PageLen) + Charge / 2, readsInFlight: 2,
            devices: devices);
        return (store, pages);
    }

    [Fact]
    public async Task MissWhenLeasesFillTheCache_WaitsForALeaseInsteadOfGoingOverBudget()
    {
        var (store, pages) = Open(cachePages: 2);
        using var s0 = store;
        using var p0 = pages;
        var l0 = await pages.ReadAsync(0);
        using var l1 = await pages.ReadAsync(1);
        Assert.Equal(2 * Charge, pages.Stats.PinnedBytes);

        var p2 = pages.ReadAsync(2).AsTask();
        var s = pages.Stats;
        Assert.Equal(1, s.BudgetWaits);
        Assert.False(p2.IsCompleted);
        Assert.Equal(0, s.LoadingBytes);
        Assert.True(s.ResidentBytes + s.LoadingBytes <= s.CapacityBytes);

        l0.Dispose(); // frees room: page 0 is evicted and page 2 is read
        using var l2 = await p2;
        Assert.True(l2.Memory.Span.SequenceEqual(store.Pages[2]));
        s = pages.Stats;
        Assert.Equal(2 * Charge, s.ResidentBytes);
        Assert.Equal(2 * Charge, s.PinnedBytes);
        Assert.Equal(1, s.Evictions);
        Assert.Equal(2, pages.BufferAllocations); // page 2 was read into page 0's buffer
        Assert.Equal(0, s.LoadingBytes);
    }

    /// <summary>A read whose every caller gave up while it waited for room leaves the queue. Kept there, it took the
    /// first room a lease freed, ahead of reads someone still waited for: a reader holding pages while its next read
    /// waited behind it (a page group of a step cancelled under a tight budget) hung the next generation.</summary>
    [Fact]
    public async Task ReadAbandonedWhileWaitingForRoom_GivesItsPlaceInTheQueueBack()
    {
        var (store, pages) = Open(cachePages: 2);
        using var s0 = store;
        using var p0 = pages;
        using var l0 = await pages.ReadAsync(0);
        var l1 = await pages.ReadAsync(1);
        using var giveUp = new CancellationTokenSource();
        var abandoned = pages.ReadAsync(2, giveUp.Token).AsTask();
        Assert.False(abandoned.IsCompleted); // queued for room
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        var wanted = pages.ReadAsync(3).AsTask();
        Assert.False(wanted.IsCompleted);

        l1.Dispose(); // room for one page: the read someone waits for gets it
        using (var l3 = await wanted.WaitAsync(TimeSpan.FromSeconds(10)))
            Assert.True(l3.Memory.Span.SequenceEqual(store.Pages[3]));
        Assert.Equal(3L * PageLen, pages.Stats.BytesRead); // pages 0, 1 and 3: page 2 was never read
        Assert.Equal(0, pages.Stats.LoadingBytes);
        using var again = await pages.ReadAsync(2).AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // a new read of it works
        Assert.True(again.Memory.Span.SequenceEqual(store.Pages[2]));
    }

    [Fact]
    public async Task ConcurrentLeaseHolders_NeverHoldMoreThanTheBudget()
    {
        var (store, pages) = Open(cachePages: 3, count: 40);
        using var s0 = store;
        using var p0 = pages;
        long capacity = pages.Stats.CapacityBytes;
        var live = new Dictionary<int, int>(); // page -> leases the test holds on it
        long liveBytes = 0, peak = 0;
        var tasks = Enumerable.Range(0, 16).Select(t => Task.Run(async () =>
        {
            var rng = new Random(200 + t);
            for (int k = 0; k < 30; k++)
            {
                int page = rng.Next(store.Pages.Count);
                using var lease = await pages.ReadAsync(page);
                lock (live)
                {
                    if (live.TryGetValue(page, out int n)) live[page] = n + 1;
                    else { live[page] = 1; liveBytes += Charge; }
                    peak = Math.Max(peak, liveBytes);
                }
                for (int y = 0; y < 50; y++) await Task.Yield(); // hold the lease while other tasks run
                Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[page]), $"page {page} differs");
                lock (live)
                    if (--live[page] == 0) { live.Remove(page); liveBytes -= Charge; }
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        // Distinct pages held by leases at once are what sits in RAM; it may never pass the cache.
        Assert.InRange(peak, Charge, capacity);
        var s = pages.Stats;
        Assert.Equal(16 * 30, s.Hits + s.Misses + s.JoinedReads);
        Assert.Equal(0, s.PinnedBytes);
        Assert.Equal(0, s.LoadingBytes);
        Assert.True(s.ResidentBytes <= capacity);
    }

    [Fact]
    public async Task ReadThatMissedWhileTheLoaderFinished_IsServedFromRam_NotReadAgain()
    {
        using var store = new TempStore().Write(count: 8, minLen: 1_000, maxLen: 9_000, seed: 62);
        var held = new HeldMiss();
        using var pages = store.Open(missObserver: held);

        var a = pages.ReadAsync(5).AsTask(); // missed the cache, parked before looking for a load
        using (var b = await pages.ReadAsync(5)) // reads the disk, leaves the page resident
            Assert.True(b.Memory.Span.SequenceEqual(store.Pages[5]));
        held.Release();
        using var la = await a;

        Assert.True(la.Memory.Span.SequenceEqual(store.Pages[5]));
        var s = pages.Stats;
        Assert.Equal(1, s.Misses);
        Assert.Equal(1, s.Hits);
        Assert.Equal(0, s.JoinedReads);
        Assert.Equal(store.Pages[5].Length, s.BytesRead);
    }

    [Fact]
    public async Task ReadsJoiningALoad_AreNotHits_AndACancelledJoinerLeavesNoPin()
    {
        var (store, pages) = Open(cachePages: 2);
        using var s0 = store;
        using var p0 = pages;
        var l0 = await pages.ReadAsync(0);
        using var l1 = await pages.ReadAsync(1);

        var first = pages.ReadAsync(2).AsTask(); // the load waits for RAM, so it stays in flight
        var joiner = pages.ReadAsync(2).AsTask();
        using var cts = new CancellationTokenSource();
        var quitter = pages.ReadAsync(2, cts.Token).AsTask();
        var s = pages.Stats;
        Assert.Equal((0L, 3L, 2L), (s.Hits, s.Misses, s.JoinedReads));

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitter);
        l0.Dispose();
        using (var a = await first)
        using (var b = await joiner)
        {
            Assert.True(a.Memory.Span.SequenceEqual(store.Pages[2]));
            Assert.True(b.Memory.Equals(a.Memory)); // one read, one copy
            Assert.Equal(2 * Charge, pages.Stats.PinnedBytes);
        }
        s = pages.Stats;
        Assert.Equal(Charge, s.PinnedBytes); // only l1: the quitter's pin went with it
        Assert.Equal((0L, 3L, 2L), (s.Hits, s.Misses, s.JoinedReads));
        Assert.Equal(3L * PageLen, s.BytesRead);
    }

    /// <summary>A load that had its room and was at the disk when its only caller gave up finishes and is cached,
    /// unpinned (a load still queued for room leaves the queue instead:
    /// <see cref="ReadAbandonedWhileWaitingForRoom_GivesItsPlaceInTheQueueBack"/>).</summary>
    [Fact]
    public async Task LoadAtTheDiskWhoseOnlyCallerGaveUp_StillFinishes_AndIsCachedUnpinned()
    {
        var devices = new GatedDevices();
        var (store, pages) = Open(cachePages: 2, devices: devices);
        using var s0 = store;
        using var p0 = pages;
        using var l0 = await pages.ReadAsync(0);
        devices.Hold(pages.Entry(3).Address);
        using var cts = new CancellationTokenSource();
        var quitter = pages.ReadAsync(3, cts.Token).AsTask();
        await devices.Reached.WaitAsync(TimeSpan.FromSeconds(10)); // page 3 has its room and is at the disk
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitter);
        devices.Release();
        using var l3 = await pages.ReadAsync(3).AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // joins the load or hits what it cached
        Assert.True(l3.Memory.Span.SequenceEqual(store.Pages[3]));
        var s = pages.Stats;
        Assert.Equal(2, s.Misses); // pages 0 and 3, each read once
        Assert.Equal(2L * PageLen, s.BytesRead);
        Assert.Equal(2 * Charge, s.PinnedBytes);
    }

    [Fact]
    public void ReadAfterDispose_IsObjectDisposed_NamingTheModel()
    {
        using var store = new TempStore().Write(count: 3, minLen: 1, maxLen: 100);
        var pages = store.Open();
        pages.Dispose();
        pages.Dispose(); // idempotent
        var ex = Assert.Throws<ObjectDisposedException>(() => { _ = pages.ReadAsync(0); });
        Assert.Contains("cannot read from the page store of model 'test-model': it is disposed", ex.Message);
    }

    [Fact]
    public async Task Dispose_FinishesDiskReadsUnderWay_AndFailsReadsStillWaitingForRam()
    {
        var devices = new GatedDevices();
        var (store, pages) = Open(cachePages: 3, devices: devices);
        using var s0 = store;
        var l0 = await pages.ReadAsync(0);
        var l1 = await pages.ReadAsync(1);
        devices.Hold(pages.Entry(2).Address);

        var underWay = pages.ReadAsync(2).AsTask();
        await devices.Reached.WaitAsync(TimeSpan.FromSeconds(10)); // page 2 holds its RAM and a disk slot: the cache is full
        var waiting = pages.ReadAsync(3).AsTask();
        Assert.Equal(1, pages.Stats.BudgetWaits);

        var disposing = Task.Run(pages.Dispose);
        var ex = await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        Assert.Contains("model 'test-model': it was disposed while page 3 waited for RAM or a disk slot", ex.Message);
        Assert.False(disposing.IsCompleted); // still waiting for page 2's disk read
        devices.Release();
        await disposing;
        using var l2 = await underWay;
        Assert.True(l2.Memory.Span.SequenceEqual(store.Pages[2]));
        Assert.Throws<ObjectDisposedException>(() => { _ = pages.ReadAsync(2); });
        Assert.True(l0.Memory.Span.SequenceEqual(store.Pages[0])); // a lease outlives its store: freed when disposed
        l0.Dispose();
        l1.Dispose();
    }

    /// <summary>A policy that names pages still leased (a bug in a custom policy) must not make the cache evict them:
    /// their bytes would leave the accounting and the budget would shrink for good.</summary>
    private sealed class PinnedVictimPolicy : IEvictionPolicy
    {
        private readonly LruEvictionPolicy _inner = new();
        public void Accessed(int page) => _inner.Accessed(page);
        public void Add(int page) => _inner.Add(page);
        public void Remove(int page) => _inner.Remove(page);
        public void Clear() => _inner.Clear();

        public bool TryTakeVictim(out int page)
        {
            if (!_named0)
            {
                _named0 = true;
                page = 0; // leased by the test
                return true;
            }
            return _inner.TryTakeVictim(out page);
        }

        private bool _named0;
    }

    [Fact]
    public async Task A_policy_naming_a_leased_page_does_not_evict_it()
    {
        using var store = new TempStore().Write(count: 6, minLen: PageLen, maxLen: PageLen, seed: 62);
        using var pages = store.Open(ramBudget: PageStore.RamBudgetFor(3, PageLen), readsInFlight: 2, policy: new PinnedVictimPolicy());
        using (var l0 = await pages.ReadAsync(0))
        {
            for (var p = 1; p < 6; p++)
            {
                using var lease = await pages.ReadAsync(p);
            }
            Assert.Equal(Charge, pages.Stats.PinnedBytes);
        }
        var s = pages.Stats;
        Assert.Equal(0, s.PinnedBytes);
        Assert.True(s.ResidentBytes <= s.CapacityBytes);
        using var again = await pages.ReadAsync(0);
        Assert.True(again.Memory.Span.SequenceEqual(store.Pages[0]));
    }
}
