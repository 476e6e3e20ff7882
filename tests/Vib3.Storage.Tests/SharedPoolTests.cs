using Vib3.Core;

namespace Vib3.Storage.Tests;

/// <summary>Several stores in one <see cref="PagePool"/>: one budget over all their pages, one policy that evicts an
/// idle store's pages for a busy one, a store's pages leaving when it closes, and reads of one store woken by another's
/// leases ending. Before the pool every store had a cache (and a budget) of its own.</summary>
public class SharedPoolTests
{
    private const int PageLen = 50_000;
    private static readonly long Charge = PageStore.PageCharge(PageLen);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static TempStore Write(int seed, int count = 8) =>
        new TempStore().Write(count: count, minLen: PageLen, maxLen: PageLen, seed: seed);

    private static PageStore Open(TempStore store, PagePool pool, string name = "test-model") =>
        PageStore.Open(store.Dir, name, new PageStoreOptions { Pool = pool, ReadsInFlight = 2 });

    private static async Task ReadAllAsync(PageStore pages, TempStore store)
    {
        for (int p = 0; p < store.Pages.Count; p++)
        {
            using var lease = await pages.ReadAsync(p);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[p]), $"page {p} differs");
        }
    }

    [Theory]
    [InlineData(CachePolicy.Lru)]
    [InlineData(CachePolicy.Lfru)]
    public async Task ThreeStores_HoldNoMoreThanThePoolTogether_AndTheirBytesAddUpToThePools(CachePolicy policy)
    {
        using var s1 = Write(1);
        using var s2 = Write(2);
        using var s3 = Write(3);
        using var pool = new PagePool(PageStore.RamBudgetFor(10, PageLen), policy);
        using var a = Open(s1, pool);
        using var b = Open(s2, pool);
        using var c = Open(s3, pool);
        Assert.Equal(3, pool.Stats.Stores);

        var stores = new[] { (a, s1), (b, s2), (c, s3) };
        var readers = stores.Select(x => Task.Run(async () =>
        {
            var rng = new Random(x.Item2.Pages[0][0]);
            for (int k = 0; k < 60; k++)
            {
                int page = rng.Next(x.Item2.Pages.Count);
                using var lease = await x.Item1.ReadAsync(page);
                Assert.True(lease.Memory.Span.SequenceEqual(x.Item2.Pages[page]), $"page {page} differs");
                var p = pool.Stats;
                Assert.True(p.ResidentBytes + p.LoadingBytes + p.FreeBytes <= p.CapacityBytes, $"{p} is over the budget");
            }
        })).ToArray();
        await Task.WhenAll(readers).WaitAsync(Patience);

        var stats = pool.Stats;
        Assert.Equal(stores.Sum(x => x.Item1.Stats.ResidentBytes), stats.ResidentBytes);
        Assert.Equal(stores.Sum(x => x.Item1.Stats.ResidentPages), stats.ResidentPages);
        Assert.Equal(stores.Sum(x => x.Item1.Stats.Evictions), stats.Evictions);
        Assert.InRange(stats.ResidentBytes, Charge, stats.CapacityBytes);
        Assert.True(stats.Evictions > 0, "24 pages through a pool of 10 evict");
        Assert.All(stores, x => Assert.Equal(stats.CapacityBytes, x.Item1.Stats.CapacityBytes));
    }

    [Theory]
    [InlineData(CachePolicy.Lru)]
    [InlineData(CachePolicy.Lfru)]
    public async Task ABusyStore_EvictsTheIdleStoresPages(CachePolicy policy)
    {
        using var s1 = Write(4);
        using var s2 = Write(5);
        using var pool = new PagePool(PageStore.RamBudgetFor(10, PageLen), policy);
        using var idle = Open(s1, pool);
        using var busy = Open(s2, pool);

        await ReadAllAsync(idle, s1);
        Assert.Equal(8 * Charge, idle.Stats.ResidentBytes);
        for (int pass = 0; pass < 3; pass++) await ReadAllAsync(busy, s2);

        // The busy store got all 8 of its pages; the idle one kept what was left: 2. (LFRU's first pass evicts some of
        // the busy store's own pages: they tie with the idle ones, read once too, and ties go most recent first.)
        Assert.Equal(8 * Charge, busy.Stats.ResidentBytes);
        Assert.Equal(2 * Charge, idle.Stats.ResidentBytes);
        Assert.Equal(6, idle.Stats.Evictions);
    }

    [Fact]
    public async Task AClosedStore_LeavesThePoolAtOnce_AndALeasedPageWhenItsLeaseEnds()
    {
        using var s1 = Write(6);
        using var s2 = Write(7);
        using var pool = new PagePool(PageStore.RamBudgetFor(20, PageLen), CachePolicy.Lfru);
        using var kept = Open(s1, pool);
        var closing = Open(s2, pool);
        await ReadAllAsync(kept, s1);
        await ReadAllAsync(closing, s2);
        var lease = await closing.ReadAsync(3);
        Assert.Equal(16 * Charge, pool.Stats.ResidentBytes);

        closing.Dispose();
        var p = pool.Stats;
        Assert.Equal(1, p.Stores);
        Assert.Equal(9 * Charge, p.ResidentBytes); // the kept store's 8 pages and the leased one
        Assert.Equal(Charge, p.PinnedBytes);
        Assert.True(lease.Memory.Span.SequenceEqual(s2.Pages[3]), "a lease stays valid after its store closed");

        lease.Dispose();
        p = pool.Stats;
        Assert.Equal(8 * Charge, p.ResidentBytes);
        Assert.Equal(0, p.PinnedBytes);
        Assert.Equal(8 * Charge, kept.Stats.ResidentBytes);

        // The closed store's keys are free again: a store opened now reads its own bytes, not the old ones.
        using var reopened = Open(s2, pool);
        await ReadAllAsync(reopened, s2);
        Assert.Equal(0, reopened.Stats.Hits);
    }

    [Fact]
    public async Task AReadWaitingForRoom_IsWokenWhenAnotherStoresLeaseEnds()
    {
        using var s1 = Write(8);
        using var s2 = Write(9);
        using var pool = new PagePool(PageStore.RamBudgetFor(2, PageLen), CachePolicy.Lru);
        using var a = Open(s1, pool);
        using var b = Open(s2, pool);
        var l0 = await a.ReadAsync(0);
        var l1 = await a.ReadAsync(1);

        var waiting = b.ReadAsync(0).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, b.Stats.BudgetWaits);

        l0.Dispose(); // a's page makes room for b's read
        using var got = await waiting.WaitAsync(Patience);
        Assert.True(got.Memory.Span.SequenceEqual(s2.Pages[0]));
        Assert.Equal(1, a.Stats.Evictions);
        l1.Dispose();
    }

    [Fact]
    public async Task TwoStoresReadingTogetherUnderATightPool_Finish()
    {
        using var s1 = Write(10, count: 12);
        using var s2 = Write(11, count: 12);
        using var pool = new PagePool(PageStore.RamBudgetFor(3, PageLen), CachePolicy.Lfru);
        using var a = Open(s1, pool);
        using var b = Open(s2, pool);
        // Each takes up to its even part of the pool (1 page) and holds it while its next read waits.
        Assert.Equal(1, a.PagesThatFit);
        var both = new[] { (a, s1), (b, s2) }.Select(x => Task.Run(async () =>
        {
            for (int pass = 0; pass < 3; pass++)
                await x.Item1.ReadManyAsync(Enumerable.Range(0, 12).ToArray(), (page, bytes) =>
                {
                    Assert.True(bytes.Span.SequenceEqual(x.Item2.Pages[page]), $"page {page} differs");
                    return ValueTask.CompletedTask;
                });
        }));
        await Task.WhenAll(both).WaitAsync(Patience);
        Assert.Equal(0, pool.Stats.PinnedBytes);
        Assert.True(pool.Stats.ResidentBytes <= pool.CapacityBytes);
    }

    [Fact]
    public void AStoreWhoseLargestPageCannotFitThePool_IsRefusedWith53200()
    {
        using var store = Write(12, count: 2);
        using var pool = new PagePool(Charge - 1, CachePolicy.Lru);
        var e = Assert.Throws<Vib3Exception>(() => Open(store, pool, "big"));
        Assert.Equal(SqlState.InsufficientResources, e.SqlState);
        Assert.Contains("model big", e.Message);
        Assert.Equal(0, pool.Stats.Stores);
    }
}
