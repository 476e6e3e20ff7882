using Vib3.Core;

namespace Vib3.Storage.Tests;

public class RoundTripTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ManyRandomPagesOfVariedSizes_ReadBackBitExact_AfterReopen(bool directIo)
    {
        using var store = new TempStore().Write(count: 300, minLen: 0, maxLen: 70_000);
        using var pages = store.Open(directIo: directIo);
        Assert.Equal(300, pages.PageCount);
        Assert.Equal(store.Pages.Max(p => p.Length), pages.MaxPageBytes);
        if (directIo && OperatingSystem.IsLinux()) Assert.True(pages.IsDirectIo);

        for (int i = 0; i < store.Pages.Count; i++)
        {
            using var lease = await pages.ReadAsync(i);
            Assert.Equal(i, lease.Page);
            Assert.Equal(store.Pages[i].Length, pages.Entry(i).Length);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]), $"page {i} differs");
        }
        var s = pages.Stats;
        Assert.Equal(300, s.Misses);
        Assert.Equal(0, s.Hits);
        Assert.Equal(store.TotalBytes, s.BytesRead);
        Assert.Equal(0, s.Evictions);
        Assert.Equal(300, s.ResidentPages);

        // Second pass: all hits, no more disk.
        for (int i = 0; i < store.Pages.Count; i++)
        {
            using var lease = await pages.ReadAsync(i);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]));
        }
        Assert.Equal(300, pages.Stats.Hits);
        Assert.Equal(store.TotalBytes, pages.Stats.BytesRead);

        pages.DropCache();
        Assert.Equal(0, pages.Stats.ResidentBytes);
    }

    [Fact]
    public async Task BudgetFarBelowTotal_EvictsAndCountersAddUp()
    {
        using var store = new TempStore().Write(count: 200, minLen: 10_000, maxLen: 60_000, seed: 7);
        // Work out the smallest budget the store accepts, then give the cache ~4 pages on top.
        var ex = Assert.Throws<Vib3Exception>(() => store.Open(ramBudget: 1, readsInFlight: 4));
        Assert.Equal(SqlState.InsufficientResources, ex.SqlState);
        long minimum = MinimumFrom(store);
        using var pages = store.Open(ramBudget: minimum + 4 * 60_000, readsInFlight: 4);
        long capacity = pages.Stats.CapacityBytes;
        Assert.True(capacity < store.TotalBytes / 10);

        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < store.Pages.Count; i++)
            {
                using var lease = await pages.ReadAsync(i);
                Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]), $"page {i} differs");
                Assert.True(pages.Stats.ResidentBytes <= capacity);
            }

        var s = pages.Stats;
        // Sequential scans larger than an LRU cache miss every time.
        Assert.Equal(400, s.Misses + s.Hits);
        Assert.Equal(400, s.Misses);
        Assert.Equal(2 * store.TotalBytes, s.BytesRead);
        Assert.Equal(s.Misses - s.ResidentPages, s.Evictions);
        Assert.Equal(0, s.ChecksumFailures);
    }

    [Fact]
    public async Task PinnedPagesSurviveEviction_WhileOthersStreamThroughTheRest()
    {
        using var store = new TempStore().Write(count: 40, minLen: 50_000, maxLen: 50_000, seed: 3);
        using var pages = store.Open(ramBudget: PageStore.RamBudgetFor(2, 50_000), readsInFlight: 2); // one held, one streaming
        using var held = await pages.ReadAsync(0);
        // Everything else must stream through without evicting the pinned page.
        for (int i = 1; i < store.Pages.Count; i++)
        {
            using var lease = await pages.ReadAsync(i);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]));
        }
        Assert.True(held.Memory.Span.SequenceEqual(store.Pages[0]));
        using var again = await pages.ReadAsync(0);
        Assert.Equal(1, pages.Stats.Hits);
        Assert.Equal(PageStore.PageCharge(50_000), pages.Stats.PinnedBytes); // two leases, one page
    }

    [Fact]
    public async Task ReadMany_VisitsEveryPageOnce()
    {
        using var store = new TempStore().Write(count: 100, minLen: 1, maxLen: 20_000, seed: 5);
        using var pages = store.Open(readsInFlight: 8);
        var seen = new int[store.Pages.Count];
        await pages.ReadManyAsync(Enumerable.Range(0, store.Pages.Count).ToArray(), (page, memory) =>
        {
            Assert.True(memory.Span.SequenceEqual(store.Pages[page]));
            Interlocked.Increment(ref seen[page]);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.All(seen, n => Assert.Equal(1, n));
    }

    [Fact]
    public void OutOfRangePage_IsInvalidParameterValue()
    {
        using var store = new TempStore().Write(count: 3, minLen: 1, maxLen: 100);
        using var pages = store.Open();
        var ex = Assert.Throws<Vib3Exception>(() => { _ = pages.ReadAsync(3); });
        Assert.Equal(SqlState.InvalidParameterValue, ex.SqlState);
        Assert.Equal("page 3 is out of range for model 'test-model' (0..2)", ex.Message);
        ex = Assert.Throws<Vib3Exception>(() => pages.Entry(-1));
        Assert.Equal(SqlState.InvalidParameterValue, ex.SqlState);
        Assert.Contains("page -1 is out of range", ex.Message);
    }

    [Fact]
    public void EmptyStore_Opens()
    {
        using var store = new TempStore().Write(count: 0, minLen: 1, maxLen: 100);
        using var pages = store.Open();
        Assert.Equal(0, pages.PageCount);
        var ex = Assert.Throws<Vib3Exception>(() => { _ = pages.ReadAsync(0); });
        Assert.Equal(SqlState.InvalidParameterValue, ex.SqlState);
        Assert.Contains("(it has no pages)", ex.Message);
    }

    internal static long MinimumFrom(TempStore store)
    {
        return PageStore.MinimumRamBudget(store.Pages.Max(p => p.Length));
    }
}
