namespace Vib3.Index.Tests;

public sealed class SearchCostTests
{
    [Theory]
    [InlineData(64, 8, 64, 16, false)]    // a MoE layer of 64 pages: the scan (64) beats ~2048 (x2)
    [InlineData(3072, 8, 32, 16, true)]   // 384 experts x 8 bundles at ef 32: ~1024 (x2) beats the scan
    [InlineData(3072, 8, 64, 16, false)]  // ... at ef 64 (~2048, x2) it does not
    [InlineData(5000, 8, 0, 16, true)]    // ef 0 means the default (64): ~2048 x2 < 5000
    [InlineData(4096, 8, 64, 16, false)]  // a tie goes to the scan
    [InlineData(1000, 200, 10, 2, false)] // k above ef: k nodes are expanded (~800 x2)
    public void The_graph_is_chosen_only_when_it_costs_fewer_distance_computations(int count, int k, int ef, int m, bool graph) =>
        Assert.Equal(graph, SearchCost.PreferGraph(count, k, ef, m));
}
