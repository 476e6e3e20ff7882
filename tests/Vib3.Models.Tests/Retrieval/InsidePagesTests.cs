using Vib3.Models.Retrieval;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>Router-first retrieval's page choice on hand-computable rows: scores 4, 3, 2, 1 (total 10).</summary>
public sealed class InsidePagesTests
{
    private static List<InsidePages.Candidate> Row(params (double Score, bool Hot)[] pages)
    {
        var row = pages.Select((p, i) => new InsidePages.Candidate(i, 1f, p.Score, p.Hot)).ToList();
        row.Sort(InsidePages.Compare);
        return row;
    }

    [Theory]
    [InlineData(0.5, 0, 0, 2)]  // 4 < 5, then 4 + 3 = 7 ≥ 5: two pages
    [InlineData(0.7, 0, 0, 2)]  // 7 ≥ 7
    [InlineData(0.71, 0, 0, 3)] // 7 < 7.1: a third
    [InlineData(1, 0, 0, 4)]
    [InlineData(0, 0.5, 0, 2)]  // half the pages
    [InlineData(0, 0.6, 0, 3)]  // 2.4 rounded up
    [InlineData(0.9, 0, 1, 1)]  // k caps
    [InlineData(0, 0, 0, 4)]    // no limit: every page
    public void It_keeps_pages_best_first_to_the_mass_the_budget_or_k(double mass, double budget, int k, int kept)
    {
        var row = Row((2, false), (4, false), (1, false), (3, false));
        Assert.Equal([1, 3, 0, 2], row.Select(c => c.Page));
        Assert.Equal(kept, InsidePages.Kept(row, 10, mass, budget, k));
    }

    [Fact]
    public void Hot_pages_come_first_and_are_kept_past_the_mass_and_budget_but_not_past_k()
    {
        var row = Row((4, false), (3, false), (1, true), (2, true));
        Assert.Equal([3, 2, 0, 1], row.Select(c => c.Page)); // hot first (best first among them), ties to the lower page
        Assert.Equal(2, InsidePages.Kept(row, 10, 0.1, 0, 0));   // both hot pages, though 2 already holds 0.1
        Assert.Equal(2, InsidePages.Kept(row, 10, 0, 0.25, 0));  // a budget of one page keeps both hot pages
        Assert.Equal(1, InsidePages.Kept(row, 10, 0, 0, 1));     // k caps even hot pages
        Assert.Equal(3, InsidePages.Kept(row, 10, 0.5, 0, 0));   // 2 + 1 = 3 < 5, + 4 = 7
    }
}
