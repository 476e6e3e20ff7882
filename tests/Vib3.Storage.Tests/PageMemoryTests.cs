namespace Vib3.Storage.Tests;

[CollectionDefinition(nameof(PageMemoryTests), DisableParallelization = true)]
public sealed class PageMemoryCollection;

/// <summary>Page memory lives outside the .NET heap and is reused: reading pages allocates (almost) nothing managed.
/// Run alone, so other tests' allocations do not count.</summary>
[Collection(nameof(PageMemoryTests))]
public sealed class PageMemoryTests
{
    [Fact]
    public async Task StreamingPagesThroughASmallCache_ReusesBuffers_AndAllocatesNoManagedPageMemory()
    {
        const int pageLen = 200_000, count = 30;
        using var store = new TempStore().Write(count, pageLen, pageLen, seed: 71);
        using var pages = store.Open(ramBudget: PageStore.RamBudgetFor(3, pageLen), readsInFlight: 2);
        for (var page = 0; page < count; page++) (await pages.ReadAsync(page)).Dispose(); // warm up the code paths
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var pass = 0; pass < 3; pass++)
            for (var page = 0; page < count; page++)
            {
                using var lease = await pages.ReadAsync(page);
                Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[page]), $"page {page} differs");
            }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var s = pages.Stats;
        Assert.Equal(4L * count * pageLen, s.BytesRead); // a sequential scan larger than the cache misses every time
        // Each read allocates a few small objects (tasks, the lease), never its page: 18 MB read, well under 1 MB allocated.
        Assert.InRange(allocated, 0, 1L << 20);
        Assert.Equal(3, pages.BufferAllocations); // the cache's three buffers served all 120 reads
    }
}
