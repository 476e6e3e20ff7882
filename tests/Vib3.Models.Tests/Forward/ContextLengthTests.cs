using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tests.Forward;

/// <summary>A model's context_length sizes nothing up front: buffers and the KV cache grow with the positions used,
/// and a growth memory cannot hold is refused with one line (53200) before anything is allocated.</summary>
public sealed class ContextLengthTests
{
    [Fact]
    public void Step_buffers_for_a_context_of_int_max_allocate_by_use()
    {
        var h = new HyperParameters
        {
            Layers = 1, Dim = 16, Heads = 2, KvHeads = 1, HeadDim = 8, Vocab = 32, Context = int.MaxValue,
            Experts = 2, TopK = 1, ExpertHidden = 8,
        };
        var before = GC.GetAllocatedBytesForCurrentThread();
        var b = new StepBuffers(h, n: 1, maxBundleRows: 8, maxPageRows: 8); // used to be new float[2^31 − 1]: OutOfMemoryException at load
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.True(b.AttScratch(2, 1000).Length >= 2 * 1000); // a row of scores per head
        Assert.Same(b.AttScratch(2, 10), b.AttScratch(2, 1000));
        // Past MaxParallelScores the heads share one row: a long context does not multiply the scratch by the heads.
        var positions = StepBuffers.MaxParallelScores / 2 + 1;
        var shared = b.AttScratch(2, positions).Length;
        Assert.True(shared >= positions && shared < 2L * positions);
    }

    [Theory]
    [InlineData(KvCacheType.F32)]
    [InlineData(KvCacheType.F16)]
    public void A_kv_cache_growth_beyond_one_array_is_refused_before_allocating(KvCacheType type)
    {
        var cache = new KvCache(layers: 2, kvDim: 1 << 20, capacity: int.MaxValue, type);
        var row = new float[1 << 20];
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<Vib3Exception>(() => cache.Write(0, 4096, row, row)); // 4097 · 2^20 values > Array.MaxLength
        Assert.Equal(SqlState.OutOfMemory, e.SqlState);
        Assert.Contains($"context_length {int.MaxValue}", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void A_kv_cache_growth_beyond_memory_is_refused_naming_the_bytes()
    {
        var cache = new KvCache(layers: 4096, kvDim: 4096, capacity: 1 << 24); // 4096 layers · 2^17 positions · 32 KiB = 16 TiB
        Assert.Equal(0, cache.AllocatedBytes);
        var row = new float[4096];
        var e = Assert.Throws<Vib3Exception>(() => cache.Write(0, (1 << 17) - 1, row, row));
        Assert.Equal(SqlState.OutOfMemory, e.SqlState);
        Assert.Contains("16.0 TiB", e.Message);
        Assert.Contains("context_length 16777216", e.Message);
    }
}
