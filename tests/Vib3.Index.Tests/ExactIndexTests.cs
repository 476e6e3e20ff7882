namespace Vib3.Index.Tests;

public sealed class ExactIndexTests
{
    private static readonly float[] Points = [1, 0, 0, 2, -1, -1, 3, 3]; // four 2-d vectors

    [Theory]
    [InlineData(VectorMetric.InnerProduct, new[] { 3, 1, 0, 2 })] // (1,1)·: 6, 2, 1, -2
    [InlineData(VectorMetric.Cosine, new[] { 3, 0, 1, 2 })]       // angle to (1,1): 0, 45°, 45° (tie, lower id first), 180°
    [InlineData(VectorMetric.L2, new[] { 0, 1, 2, 3 })]           // |·−(1,1)|²: 1, 2, 8, 8 (tie, lower id first)
    public void Ranks_every_vector_by_the_metric(VectorMetric metric, int[] expected)
    {
        var index = new ExactIndex(Points, 2, metric);
        var results = new Neighbor[4];
        Assert.Equal(4, index.Search([1, 1], 10, results));
        Assert.Equal(expected, results.Select(r => r.Id));
        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.Score >= p.Second.Score));
    }

    [Fact]
    public void Returns_only_k_and_checks_the_query_length()
    {
        var index = new ExactIndex(Points, 2, VectorMetric.InnerProduct);
        var results = new Neighbor[4];
        Assert.Equal(2, index.Search([1, 1], 2, results));
        Assert.Equal([3, 1], results[..2].Select(r => r.Id));
        Assert.Throws<ArgumentException>(() => index.Search([1, 1, 1], 2, results));
        Assert.Throws<ArgumentException>(() => new ExactIndex([1, 2, 3], 2, VectorMetric.L2));
    }
}
