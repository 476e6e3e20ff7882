using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Storage.Tests;

/// <summary>A store in a fresh temp directory, deleted on dispose, plus the pages written to it.</summary>
internal sealed class TempStore : IDisposable
{
    public TempStore(string? parent = null)
    {
        Dir = Path.Combine(parent ?? Path.GetTempPath(), "vib3-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }
    public List<byte[]> Pages { get; } = new();
    public long TotalBytes => Pages.Sum(p => (long)p.Length);

    /// <summary>Write <paramref name="count"/> random pages with lengths in [minLen, maxLen] and complete the store.</summary>
    public TempStore Write(int count, int minLen, int maxLen, int seed = 1)
    {
        var rng = new Random(seed);
        using var writer = PageLogWriter.Create(Dir, maxLen);
        for (int i = 0; i < count; i++)
        {
            var page = new byte[rng.Next(minLen, maxLen + 1)];
            rng.NextBytes(page);
            Assert.Equal(i, writer.Append(page));
            Pages.Add(page);
        }
        Assert.Equal(count, writer.PageCount);
        Assert.Equal(TotalBytes, writer.BytesWritten);
        writer.Complete();
        return this;
    }

    public PageStore Open(long ramBudget = 1L << 30, bool directIo = true, int readsInFlight = 16, IEvictionPolicy? policy = null,
        CachePolicy cachePolicy = CachePolicy.Lru, PageClassMap? classes = null, PageTraceWriter? trace = null,
        IStoreDevices? devices = null, IPageMissObserver? missObserver = null) =>
        PageStore.Open(Dir, "test-model", new PageStoreOptions
        {
            RamBudgetBytes = ramBudget,
            DirectIo = directIo,
            ReadsInFlight = readsInFlight,
            EvictionPolicy = policy,
            CachePolicy = cachePolicy,
            Trace = trace,
            Devices = devices ?? StoreDevices.Default,
            MissObserver = missObserver,
        }, classes);

    public string SegmentPath(int segment) => Path.Combine(Dir, "log", $"pages.log.{segment}");

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}
