using Vib3.Storage.Tracing;

namespace Vib3.Storage.Tests;

/// <summary>The eviction policies on hand-checked read sequences, replayed by <see cref="CacheSimulator"/>.</summary>
public class PolicySimulationTests
{
    // The textbook reference string (Belady's anomaly example): 12 reads of 5 pages.
    private static readonly int[] Classic = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

    [Theory]
    // Belady, 3 frames: misses 1 2 3 4(evict 3) 5(evict 4) 3(evict 1 or 2, both dead) 4: 7 misses, 5 hits.
    // Belady, 4 frames: misses 1 2 3 4 5(evict 4) 4(evict any dead page): 6 misses, 6 hits.
    [InlineData(3, 5)]
    [InlineData(4, 6)]
    public void Belady_OnTheClassicSequence_GetsTheOptimalHitCount(int frames, int hits) =>
        Assert.Equal(hits, CacheSimulator.Run(Classic, frames, new BeladyEvictionPolicy(Classic)).Hits);

    [Theory]
    // LRU, 3 frames: only the 1 and 2 right after 5 hit. 4 frames: 1 2 (second round) and 1 2 (after 5) hit.
    [InlineData(3, 2)]
    [InlineData(4, 4)]
    public void Lru_OnTheClassicSequence_GetsTheTextbookHitCount(int frames, int hits) =>
        Assert.Equal(hits, CacheSimulator.Run(Classic, frames, new LruEvictionPolicy()).Hits);

    [Fact]
    public void Belady_IsNeverBeatenByTheStorePolicies()
    {
        var rng = new Random(5);
        var pages = Enumerable.Range(0, 3000).Select(_ => (int)Math.Sqrt(rng.Next(400))).ToArray(); // skewed over 20 pages
        for (int frames = 1; frames <= 20; frames += 3)
        {
            long opt = CacheSimulator.Run(pages, frames, new BeladyEvictionPolicy(pages)).Hits;
            Assert.True(opt >= CacheSimulator.Run(pages, frames, new LruEvictionPolicy()).Hits);
            Assert.True(opt >= CacheSimulator.Run(pages, frames, new LfruEvictionPolicy(null)).Hits);
        }
    }

    [Fact]
    public void Belady_DrivenByAnotherSequence_Refuses() =>
        Assert.Throws<InvalidOperationException>(() => CacheSimulator.Run([1, 2, 3], 2, new BeladyEvictionPolicy([1, 2, 4])));

    /// <summary>A hot expert page H read 4 times, then a scan of 5 cold pages through a 3-page cache, three rounds.</summary>
    private static int[] HotThenScan()
    {
        const int hot = 0;
        var pages = new List<int>();
        for (int round = 0; round < 3; round++)
        {
            pages.AddRange([hot, hot, hot, hot]);
            pages.AddRange(Enumerable.Range(10 + 5 * round, 5)); // fresh cold pages each round
        }
        return pages.ToArray();
    }

    [Fact]
    public void ScanOfColdPages_EvictsTheHotPageUnderLru_ButNotUnderLfru()
    {
        var pages = HotThenScan();
        // LRU: the scan's last 3 pages fill the cache, so each round's first H misses: 3 hits a round.
        Assert.Equal(9, CacheSimulator.Run(pages, 3, new LruEvictionPolicy()).Hits);
        // LFRU: H (count ≥ 4) outranks every cold page (count 1), which evict each other: after round 1, 4 hits a round.
        Assert.Equal(11, CacheSimulator.Run(pages, 3, new LfruEvictionPolicy(null)).Hits);
    }

    [Fact]
    public void Lfru_CountsDecay_SoAnOnceHotPageGoesEventually()
    {
        // H read 50 times, then A and B alternate 40 times each, then C needs room in a 3-page cache.
        var pages = Enumerable.Repeat(0, 50).ToList();
        for (int i = 0; i < 40; i++) pages.AddRange([1, 2]);
        pages.AddRange([3, 1, 2]);
        // Half-life of 4 reads: H's count has long decayed below A's and B's, so C evicts H and the last A and B hit.
        Assert.Equal(49 + 78 + 2, CacheSimulator.Run(pages, 3, new LfruEvictionPolicy(null, halfLifeAccesses: 4)).Hits);
        // No decay to speak of: H, A and B are equally hot (counts within a factor of 2), so C evicts the most recent,
        // B; A hits; B misses.
        Assert.Equal(49 + 78 + 1, CacheSimulator.Run(pages, 3, new LfruEvictionPolicy(null, halfLifeAccesses: 1e12)).Hits);
    }

    [Fact]
    public void Lfru_CountsMoreThanRoot2Apart_AreOrderedByCount_NotRecency()
    {
        // B read twice, then A three times (no decay): a cache of 2 pages, C needs room, then A is read again.
        // A's count is 1.5 times B's: within the earlier factor-of-two tie, where the most recent (A) went and the last
        // read missed; beyond the √2 tie, so B, the less read, goes and A hits.
        int[] pages = [1, 1, 0, 0, 0, 2, 0];
        Assert.Equal(4, CacheSimulator.Run(pages, 2, new LfruEvictionPolicy(null, halfLifeAccesses: 1e12)).Hits);
        Assert.Equal(3, CacheSimulator.Run(pages, 2, new LfruEvictionPolicy(null, halfLifeAccesses: 1e12, tieWidth: 1)).Hits);
    }

    [Fact]
    public void Lfru_CountsWithinRoot2_Tie_AndTheMostRecentGoesFirst()
    {
        // B read 4 times, then A 5 times (no decay): log2 counts 2 and 2.32 share a half-doubling bucket, so C evicts
        // the most recent, A, and the last read of B hits (LRU evicts B there and misses it).
        int[] pages = [1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 1];
        Assert.Equal(3 + 4 + 1, CacheSimulator.Run(pages, 2, new LfruEvictionPolicy(null, halfLifeAccesses: 1e12)).Hits);
        Assert.Equal(3 + 4, CacheSimulator.Run(pages, 2, new LruEvictionPolicy()).Hits);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Lfru_RefusesATieWidthThatIsNotPositive(double width) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LfruEvictionPolicy(null, tieWidth: width));

    [Fact]
    public void Lfru_KeepsADensePage_OverAHotterExpertPage()
    {
        // Page 0 is dense (read once), page 1 an expert read 3 times, then expert page 2 needs room in a 2-page cache.
        var classes = new PageClassMap([PageClass.Dense, new(PageKind.Expert, 0, 0), new(PageKind.Expert, 0, 1)]);
        int[] pages = [0, 1, 1, 1, 2, 0];
        var lfru = CacheSimulator.Run(pages, 2, new LfruEvictionPolicy(classes), classes);
        Assert.Equal(3, lfru.Hits); // 1, 1 and the final 0
        Assert.Equal(2, lfru.ExpertHits);
        Assert.Equal(4, lfru.ExpertReads);
        // LRU evicts the dense page, least recently used, and misses it at the end.
        Assert.Equal(2, CacheSimulator.Run(pages, 2, new LruEvictionPolicy(), classes).Hits);
    }

    [Fact]
    public void Lfru_EvictsDensePages_WhenNothingElseIsEvictable_MostRecentFirst()
    {
        // Four dense pages read in a loop, three times, through a 3-page cache: LRU always evicts the page read
        // next and never hits. Most recent first: 3 evicts 2; 0 1 hit; 2 evicts 1; 3 0 hit; 1 evicts 0; 2 3 hit:
        // 6 hits, as many as Belady.
        var classes = new PageClassMap([PageClass.Dense, PageClass.Dense, PageClass.Dense, PageClass.Dense]);
        int[] pages = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3];
        Assert.Equal(0, CacheSimulator.Run(pages, 3, new LruEvictionPolicy(), classes).Hits);
        Assert.Equal(6, CacheSimulator.Run(pages, 3, new LfruEvictionPolicy(classes), classes).Hits);
        Assert.Equal(6, CacheSimulator.Run(pages, 3, new BeladyEvictionPolicy(pages), classes).Hits);
    }

    [Fact]
    public void Lfru_KeepsAPrefetchedPageUntilItsRead_ButNotForever()
    {
        // Pages 0 and 1 are read 3 times each (cache of 3), then page 2 is cached with no read (a prefetch, as the store
        // does: Add without Accessed), then page 3 is read: by count alone 2 (count 1) would go; it is kept, 0 or 1 goes.
        var lfru = new LfruEvictionPolicy(null, halfLifeAccesses: 80); // prefetch window: 10 reads
        foreach (var p in new[] { 0, 1, 0, 1, 0, 1 }) { lfru.Accessed(p); lfru.Add(p); }
        lfru.Add(2);
        lfru.Accessed(3);
        Assert.True(lfru.TryTakeVictim(out var victim));
        Assert.Contains(victim, new[] { 0, 1 });
        lfru.Add(3);
        // The prefetch is never read: 10 reads later it is the first victim, before 1 and 3.
        for (int i = 0; i < 10; i++) { lfru.Accessed(1); lfru.Remove(1); lfru.Add(1); }
        Assert.True(lfru.TryTakeVictim(out victim));
        Assert.Equal(2, victim);
    }

    [Fact]
    public void ByteCapacity_EvictsUntilTheNewPageFits()
    {
        int[] sizes = [3, 1, 1];
        // 1 2 miss, 1 2 hit; 0 (3 bytes) evicts 1, the least recent, leaving 2 + 3 = 4; then 1 evicts 2.
        Assert.Equal(2, CacheSimulator.Run([1, 2, 1, 2, 0, 1], 4, new LruEvictionPolicy(), pageBytes: sizes).Hits);
        Assert.Throws<ArgumentException>(() => CacheSimulator.Run([0], 2, new LruEvictionPolicy(), pageBytes: sizes));
    }

    [Fact]
    public void CountFrom_WarmsTheCacheWithoutCounting()
    {
        int[] pages = [1, 2, 1, 2];
        var r = CacheSimulator.Run(pages, 2, new LruEvictionPolicy(), countFrom: 2);
        Assert.Equal((2L, 2L), (r.Reads, r.Hits));
    }
}
