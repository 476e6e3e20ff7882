using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>Router-first retrieval's choice of one row's pages inside its experts, shared by the forward pass (which
/// reads the pages it keeps) and by <see cref="MassCalibration"/> (which measures what they hold): hot pages first,
/// then by predicted score, best first, ties to the lower page; kept from the front until they hold the mass of the
/// predicted total, or fill the budget share of the pages, or k of them.</summary>
public static class InsidePages
{
    /// <summary>One page of a row's experts: its id (or any tag the caller needs), the router weight of its expert,
    /// its predicted score (router weight × the norm of its neurons' predictions) and whether it is a hot page.</summary>
    public readonly record struct Candidate(int Page, float Weight, double Score, bool Hot);

    /// <summary>A row's candidates in keep order, into <paramref name="ranked"/> (cleared first): every bundle page of its
    /// <paramref name="experts"/> (weights <paramref name="weights"/>), its page id within the layer, scored as the
    /// router weight × the norm of its neurons' contributions predicted from <paramref name="keys"/> on the row's FFN
    /// input <paramref name="x"/>. Returns the scores' total. <paramref name="predicted"/> and <paramref name="scratch"/>:
    /// [expert hidden] buffers.</summary>
    public static double Rank(NeuronKeyLayer keys, ExpertGridEntry grid, ReadOnlySpan<float> x, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights,
        List<Candidate> ranked, Span<float> predicted, Span<float> scratch)
    {
        var bundles = grid.BundlesPerExpert;
        ranked.Clear();
        double total = 0;
        for (var j = 0; j < experts.Length; j++)
        {
            keys.Predict(experts[j], x, predicted, scratch);
            for (var b = 0; b < bundles; b++)
            {
                var score = Math.Abs(weights[j]) * Norm(predicted.Slice(b * grid.BundleRows, grid.RowsInBundle(b)));
                ranked.Add(new Candidate(experts[j] * bundles + b, weights[j], score, grid.IsHot(experts[j], b)));
                total += score;
            }
        }
        ranked.Sort(Compare);
        return total;
    }

    /// <summary>A page's size from its neurons' values: the norm √Σ v².</summary>
    public static double Norm(ReadOnlySpan<float> values)
    {
        var squares = 0.0;
        foreach (var v in values) squares += (double)v * v;
        return Math.Sqrt(squares);
    }

    /// <summary>The order pages are kept in: hot first, then higher score, then lower page.</summary>
    public static int Compare(Candidate a, Candidate b) =>
        b.Hot.CompareTo(a.Hot) is var h && h != 0 ? h : b.Score.CompareTo(a.Score) is var s && s != 0 ? s : a.Page.CompareTo(b.Page);

    /// <summary>How many of <paramref name="ordered"/> (sorted by <see cref="Compare"/>, scores summing to
    /// <paramref name="total"/>) the row keeps: hot pages always (unless k caps the row), then pages while those kept
    /// hold less than <paramref name="mass"/> of the total (0: no mass limit), at most the <paramref name="budget"/>
    /// share of them (0: no budget) and at most <paramref name="k"/> (0: no cap).</summary>
    public static int Kept(IReadOnlyList<Candidate> ordered, double total, double mass, double budget, int k)
    {
        var limit = budget > 0 ? (int)Math.Ceiling(budget * ordered.Count - 1e-9) : ordered.Count;
        if (k > 0) limit = Math.Min(limit, k);
        var (kept, held) = (0, 0.0);
        foreach (var page in ordered)
        {
            if (kept >= limit && !(page.Hot && k == 0)) break;
            if (!page.Hot && mass > 0 && held >= mass * total) break;
            kept++;
            held += page.Score;
        }
        return kept;
    }
}
