namespace Vib3.Storage.Tests;

public class ConcurrencyTests
{
    [Fact]
    public async Task ManyTasksReadingSameAndDifferentPages_GetRightBytes_AndEachPageIsReadOnce()
    {
        using var store = new TempStore().Write(count: 64, minLen: 1_000, maxLen: 40_000, seed: 11);
        using var pages = store.Open(readsInFlight: 8);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, 256).Select(t => Task.Run(async () =>
        {
            await start.Task;
            var rng = new Random(t);
            for (int k = 0; k < 20; k++)
            {
                // Half the reads hammer pages 0..3, the rest spread over the store.
                int page = k % 2 == 0 ? rng.Next(4) : rng.Next(store.Pages.Count);
                using var lease = await pages.ReadAsync(page);
                Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[page]), $"page {page} differs");
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(tasks);

        var s = pages.Stats;
        Assert.Equal(256 * 20, s.Hits + s.Misses + s.JoinedReads);
        // The cache holds everything, so concurrent misses of one page must share one disk read.
        Assert.Equal(s.ResidentPages, s.Misses);
        Assert.Equal(0, s.PinnedBytes);
        Assert.Equal(0, s.LoadingBytes);
        var read = Enumerable.Range(0, store.Pages.Count).Where(pages.IsCached).ToList();
        Assert.Equal(read.Sum(p => (long)store.Pages[p].Length), s.BytesRead);
        Assert.Equal(read.Sum(p => (long)PageStore.PageCharge(store.Pages[p].Length)), s.ResidentBytes);
    }

    [Fact]
    public async Task ConcurrentReadsUnderEvictionPressure_StayCorrect()
    {
        using var store = new TempStore().Write(count: 80, minLen: 20_000, maxLen: 30_000, seed: 12);
        long minimum = RoundTripTests.MinimumFrom(store);
        using var pages = store.Open(ramBudget: minimum + 200_000, readsInFlight: 4);
        var tasks = Enumerable.Range(0, 32).Select(t => Task.Run(async () =>
        {
            var rng = new Random(100 + t);
            for (int k = 0; k < 50; k++)
            {
                int page = rng.Next(store.Pages.Count);
                using var lease = await pages.ReadAsync(page);
                Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[page]), $"page {page} differs");
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        var s = pages.Stats;
        Assert.Equal(32 * 50, s.Hits + s.Misses + s.JoinedReads);
        Assert.True(s.Evictions > 0);
        Assert.True(s.ResidentBytes <= s.CapacityBytes);
        Assert.Equal(0, s.PinnedBytes);
    }
}
