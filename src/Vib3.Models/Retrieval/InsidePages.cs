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
