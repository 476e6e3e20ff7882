namespace Vib3.Index.Tests;

public sealed class HnswIndexTests
{
    // A graph whose links were wrong (no back links, a broken heuristic, a search stopping early) falls far below
    // these: on clustered data a disconnected cluster alone costs about 1/clusters of the recall.
    [Theory]
    [InlineData(VectorMetric.L2)]
    [InlineData(VectorMetric.Cosine)]
    [InlineData(VectorMetric.InnerProduct)]
    public void Clustered_10k_recall_at_10_is_at_least_0_95_at_ef_64(VectorMetric metric)
    {
        var data = TestData.Clustered(10_000, 32, 50, seed: 1);
        var queries = TestData.Clustered(10_200, 32, 50, seed: 1)[(10_000 * 32)..];
        var index = new HnswIndex(data, 32, metric, new HnswOptions(EfConstruction: 100));
        var recall = TestData.Recall(index, new ExactIndex(data, 32, metric), queries, 10, 64);
        Assert.True(recall >= 0.95, $"recall@10 {recall:F4} under {metric}");
    }

    [Theory]
    [InlineData(VectorMetric.L2)]
    [InlineData(VectorMetric.Cosine)]
    [InlineData(VectorMetric.InnerProduct)]
    public void Iid_5k_recall_at_10_is_at_least_0_9(VectorMetric metric)
    {
        var data = TestData.Gaussian(5_000, 16, seed: 2);
        var queries = TestData.Gaussian(200, 16, seed: 3);
        var index = new HnswIndex(data, 16, metric);
        var recall = TestData.Recall(index, new ExactIndex(data, 16, metric), queries, 10, 64);
        Assert.True(recall >= 0.9, $"recall@10 {recall:F4} under {metric}");
    }

    [Fact]
    public void A_parallel_build_reaches_the_same_recall()
    {
        var data = TestData.Gaussian(5_000, 16, seed: 2);
        var queries = TestData.Gaussian(200, 16, seed: 3);
        var index = new HnswIndex(data, 16, VectorMetric.L2, new HnswOptions(Threads: 4));
        Assert.True(TestData.Recall(index, new ExactIndex(data, 16, VectorMetric.L2), queries, 10, 64) >= 0.9);
    }

    [Fact]
    public void Results_are_best_first_and_counted()
    {
        var data = TestData.Gaussian(2_000, 8, seed: 4);
        var index = new HnswIndex(data, 8, VectorMetric.L2);
        var results = new Neighbor[10];
        Assert.Equal(10, index.Search(data.AsSpan(0, 8), 10, results, 32, out var distances));
        Assert.Equal(0, results[0].Id); // a stored vector is its own nearest neighbour under L2
        Assert.Equal(0f, results[0].Score);
        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        Assert.True(distances >= 10 && distances < 2_000, $"{distances} distance computations");
        Assert.Equal(distances, index.DistanceComputations);
        Assert.True(index.BuildDistanceComputations > 0);
        Assert.Throws<ArgumentException>(() => index.Search(new float[7], 10, results));
    }

    [Fact]
    public void K_above_count_returns_every_vector()
    {
        var data = TestData.Gaussian(5, 4, seed: 5);
        var index = new HnswIndex(data, 4, VectorMetric.Cosine);
        var results = new Neighbor[10];
        Assert.Equal(5, index.Search(data.AsSpan(0, 4), 10, results));
        Assert.Equal([0, 1, 2, 3, 4], results[..5].Select(r => r.Id).Order());
        Assert.Equal(2, index.Search(data.AsSpan(0, 4), 10, results.AsSpan(0, 2))); // and no more than fits
    }

    [Fact]
    public void Empty_and_single_vector_indexes_search_and_round_trip()
    {
        var empty = new HnswIndex([], 3, VectorMetric.L2);
        Assert.Equal(0, empty.Count);
        Assert.Equal(0, empty.Search([1, 2, 3], 5, new Neighbor[5]));
        Assert.Equal(0, RoundTrip(empty).Search([1, 2, 3], 5, new Neighbor[5]));

        var one = new HnswIndex([1, 2, 3], 3, VectorMetric.InnerProduct);
        var results = new Neighbor[5];
        Assert.Equal(1, one.Search([1, 0, 0], 5, results));
        Assert.Equal(new Neighbor(0, 1), results[0]);
        Assert.Equal(1, RoundTrip(one).Search([1, 0, 0], 5, results));
        Assert.Equal(new Neighbor(0, 1), results[0]);
    }

    [Fact]
    public void Duplicate_vectors_are_all_found()
    {
        // 100 distinct vectors, each stored 8 times (ids v, v + 100, ...): the heuristic prunes links between copies
        // (each is "closer" to its twin), yet every copy must stay reachable.
        var distinct = TestData.Gaussian(100, 16, seed: 6);
        var data = new float[800 * 16];
        for (var copy = 0; copy < 8; copy++) distinct.CopyTo(data, copy * distinct.Length);
        var index = new HnswIndex(data, 16, VectorMetric.L2);
        var results = new Neighbor[8];
        for (var v = 0; v < 100; v++)
        {
            Assert.Equal(8, index.Search(distinct.AsSpan(v * 16, 16), 8, results, 64));
            Assert.Equal(Enumerable.Range(0, 8).Select(c => v + 100 * c), results.Select(r => r.Id).Order());
        }
    }

    [Fact]
    public void Concurrent_searches_match_sequential_ones()
    {
        var data = TestData.Gaussian(3_000, 16, seed: 8);
        var queries = TestData.Gaussian(300, 16, seed: 9);
        var index = new HnswIndex(data, 16, VectorMetric.L2);
        var expected = new Neighbor[300][];
        for (var q = 0; q < 300; q++)
        {
            expected[q] = new Neighbor[10];
            index.Search(queries.AsSpan(q * 16, 16), 10, expected[q], 40);
        }
        var mismatches = 0;
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var results = new Neighbor[10];
            for (var round = 0; round < 3; round++)
                for (var i = 0; i < 300; i++)
                {
                    var q = (i + t * 37) % 300; // threads walk the queries in different orders
                    index.Search(queries.AsSpan(q * 16, 16), 10, results, 40);
                    if (!results.AsSpan().SequenceEqual(expected[q])) Interlocked.Increment(ref mismatches);
                }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Steady_state_searches_allocate_nothing()
    {
        var data = TestData.Gaussian(2_000, 16, seed: 12);
        var index = new HnswIndex(data, 16, VectorMetric.Cosine);
        var results = new Neighbor[10];
        index.Search(data.AsSpan(0, 16), 10, results, 100); // first search rents (creates) the scratch
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var q = 0; q < 200; q++) index.Search(data.AsSpan(q * 16, 16), 10, results, 100);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Options_are_validated_by_field()
    {
        float[] data = [1, 2, 3, 4];
        Assert.Equal("M", Assert.Throws<ArgumentException>(() => new HnswIndex(data, 2, VectorMetric.L2, new HnswOptions(M: 1))).ParamName);
        Assert.Equal("M", Assert.Throws<ArgumentException>(() => new HnswOptions(M: 5000).Validate()).ParamName);
        Assert.Equal("EfConstruction", Assert.Throws<ArgumentException>(() => new HnswOptions(EfConstruction: 0).Validate()).ParamName);
        Assert.Equal("Threads", Assert.Throws<ArgumentException>(() => new HnswOptions(Threads: 0).Validate()).ParamName);
        Assert.Contains("HnswOptions.Threads", Assert.Throws<ArgumentException>(() => new HnswOptions(Threads: -1).Validate()).Message);
        Assert.Throws<ArgumentException>(() => new HnswIndex([1, 2, 3], 2, VectorMetric.L2));
    }

    internal static HnswIndex RoundTrip(HnswIndex index)
    {
        var stream = new MemoryStream();
        index.Save(stream);
        stream.Position = 0;
        return HnswIndex.Load(stream, "round-trip");
    }
}
