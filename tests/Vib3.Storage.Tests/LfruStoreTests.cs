using Vib3.Storage.Tracing;

namespace Vib3.Storage.Tests;

/// <summary>The store with <see cref="CachePolicy.Lfru"/>: within the budget, and hitting exactly as the simulator predicts.</summary>
public class LfruStoreTests
{
    private const int PageLen = 20_000, Count = 30, CachePages = 6;

    // Pages 0..1 dense, the rest expert pages of two layers: a skewed read sequence (a few hot experts).
    private static readonly PageClassMap Classes = new(Enumerable.Range(0, Count)
        .Select(p => p < 2 ? PageClass.Dense : new PageClass(PageKind.Expert, p % 2, p / 2)).ToArray());

    private static int[] SkewedReads(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i => i % 4 == 0 ? i / 4 % 2 : 2 + (int)(Math.Pow(rng.NextDouble(), 3) * (Count - 2))).ToArray();
    }

    private static PageStore Open(TempStore store, int readsInFlight = 2) =>
        store.Open(ramBudget: PageStore.RamBudgetFor(CachePages, PageLen),
            readsInFlight: readsInFlight, cachePolicy: CachePolicy.Lfru, classes: Classes);

    [Fact]
    public async Task SequentialReads_HitExactlyAsTheSimulatorPredicts()
    {
        using var store = new TempStore().Write(Count, PageLen, PageLen, seed: 3);
        using var pages = Open(store);
        var reads = SkewedReads(2000, seed: 11);
        foreach (var p in reads)
        {
            using var lease = await pages.ReadAsync(p);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[p]));
        }
        var expected = CacheSimulator.Run(reads, CachePages, new LfruEvictionPolicy(Classes), Classes);
        Assert.Equal(expected.Hits, pages.Stats.Hits);
        // and frequency pays here: LRU on the same reads and cache hits less
        Assert.True(expected.Hits > CacheSimulator.Run(reads, CachePages, new LruEvictionPolicy()).Hits);
    }

    [Fact]
    public async Task ConcurrentReads_NeverGoAboveTheBudget()
    {
        using var store = new TempStore().Write(Count, PageLen, PageLen, seed: 4);
        using var pages = Open(store, readsInFlight: 4);
        long capacity = pages.Stats.CapacityBytes, peak = 0;
        var reads = SkewedReads(3000, seed: 12);
        await pages.ReadManyAsync(reads, (p, memory) =>
        {
            Assert.True(memory.Span.SequenceEqual(store.Pages[p]));
            var s = pages.Stats;
            Interlocked.Exchange(ref peak, Math.Max(Interlocked.Read(ref peak), s.ResidentBytes + s.LoadingBytes));
            return ValueTask.CompletedTask;
        });
        var end = pages.Stats;
        Assert.InRange(peak, 1, capacity);
        Assert.InRange(end.ResidentBytes, 1, capacity);
        Assert.Equal(reads.Length, end.Hits + end.Misses + end.JoinedReads);
        Assert.True(end.Evictions > 0);
    }
}
