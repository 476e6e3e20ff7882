using Vib3.Core;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Weights;

public sealed class UnorderedStreamTests
{
    /// <summary>Every listed page (repeats included) reaches the consumer exactly once with its own bytes, whatever
    /// order the reads finish in, under a roomy budget and under one that holds two pages (reads then wait for room
    /// that only released pages free: it must not deadlock).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_page_arrives_once_with_its_bytes(bool tight)
    {
        using var f = Fixture();
        using var weights = Open(f, tight);
        var pages = Enumerable.Range(0, weights.Store.PageCount).Concat([3, 0, 3]).ToArray();
        var expected = await BytesOf(weights, pages);
        weights.Store.DropCache();

        var seen = new byte[pages.Length][];
        await weights.StreamPagesUnorderedAsync(pages, (index, page) =>
        {
            Assert.Null(seen[index]);
            seen[index] = page.ToArray();
        });
        for (var i = 0; i < pages.Length; i++) Assert.Equal(expected[i], seen[i]);
        Assert.Equal(0, weights.Store.Stats.PinnedBytes);
        // Cold pages come from disk: the stream found nothing ready at least once, and timed it.
        var cold = weights.PageWaits;
        Assert.True(cold.Waits > 0 && cold.Seconds > 0, $"{cold}");
        if (tight) return;
        // Everything is resident now: hits never stall.
        await weights.StreamPagesUnorderedAsync(pages, (_, _) => { });
        Assert.Equal(cold, weights.PageWaits);
    }

    /// <summary>The grouped stream hands each page over once: pages read from disk in groups no larger than asked; with
    /// every page in RAM the whole list in one group (the decode step's one dispatch per layer, however many small pages
    /// it reads); and under a budget of two pages it neither deadlocks nor holds more than the cache has room for.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Grouped_every_page_arrives_once_in_groups_of_at_most_the_group(bool tight)
    {
        using var f = Fixture();
        using var weights = Open(f, tight);
        var pages = Enumerable.Range(0, Math.Min(12, weights.Store.PageCount)).ToArray();
        var expected = await BytesOf(weights, pages);
        if (tight) weights.Store.DropCache();

        const int group = 5;
        var seen = new byte[pages.Length][];
        var sizes = new List<int>();
        await weights.StreamPagesUnorderedAsync(pages, group, (indices, memories) =>
        {
            sizes.Add(indices.Count);
            for (var i = 0; i < indices.Count; i++)
            {
                Assert.Null(seen[indices[i]]);
                seen[indices[i]] = memories[i].ToArray();
            }
        });
        for (var i = 0; i < pages.Length; i++) Assert.Equal(expected[i], seen[i]);
        Assert.Equal(0, weights.Store.Stats.PinnedBytes);
        if (tight) Assert.All(sizes, n => Assert.InRange(n, 1, group));
        else Assert.Equal([12], sizes); // all resident: one group
    }

    private static ModelFixture Fixture() =>
        new(ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 128, ExpertHidden = 256, Experts = 8, Layers = 2 }, "hf", pageRows: 32);

    /// <summary>A roomy budget, or one that holds two pages (reads then wait for room that only released pages free).</summary>
    private static ModelWeights Open(ModelFixture f, bool tight)
    {
        var budget = tight ? PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes) + 2L * f.Manifest.MaxPageBytes : 256L << 20;
        return ModelWeights.Open(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
    }

    private static async Task<byte[][]> BytesOf(ModelWeights weights, int[] pages)
    {
        var bytes = new byte[pages.Length][];
        for (var i = 0; i < pages.Length; i++)
        {
            using var lease = await weights.Store.ReadAsync(pages[i]);
            bytes[i] = lease.Memory.ToArray();
        }
        return bytes;
    }
}
