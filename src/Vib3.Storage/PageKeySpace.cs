using Vib3.Core;

namespace Vib3.Storage;

/// <summary>
/// The ids a shared <see cref="PageCache"/> and its eviction policy know pages by: each store open in the pool holds
/// a range [Base, Base + PageCount), its page p being Base + p, so one int-keyed policy ranks every store's pages
/// together. A range is given back once its store has closed and its last page has left the cache; the next store
/// that fits takes the lowest free gap, so the ids stay dense however many models open and close. Also the pool's
/// <see cref="IPageClasses"/>: a page is dense if its store's classes say so.
/// Not thread-safe: the owning cache's lock guards it.
/// </summary>
internal sealed class PageKeySpace : IPageClasses
{
    private readonly List<Range> _ranges = new(); // by Base

    /// <summary>Pages of the stores holding ranges now.</summary>
    public int PageCount { get; private set; }

    /// <summary>A range of <paramref name="pages"/> ids for a store whose pages' classes are <paramref name="classes"/>.</summary>
    /// <exception cref="Vib3Exception">53200 when the ids of the stores open together would pass int.MaxValue.</exception>
    public int Allocate(int pages, PageClassMap? classes, string modelName)
    {
        pages = Math.Max(1, pages); // a store without pages still needs an id of its own to be told apart
        long start = 0;
        int at = 0;
        for (; at < _ranges.Count && _ranges[at].Base - start < pages; at++) start = (long)_ranges[at].Base + _ranges[at].Pages;
        if (start + pages > int.MaxValue)
            throw new Vib3Exception(SqlState.InsufficientResources,
                $"cannot open model {modelName}: the models open together would have more than {int.MaxValue} pages");
        _ranges.Insert(at, new Range((int)start, pages, classes));
        PageCount += pages;
        return (int)start;
    }

    public void Free(int @base)
    {
        int at = Find(@base);
        PageCount -= _ranges[at].Pages;
        _ranges.RemoveAt(at);
    }

    public bool IsDense(int page)
    {
        int at = Find(page);
        return at >= 0 && _ranges[at].Classes is { } c && c.IsDense(page - _ranges[at].Base);
    }

    /// <summary>The index of the range holding <paramref name="key"/>, or −1.</summary>
    private int Find(int key)
    {
        int lo = 0, hi = _ranges.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _ranges[mid];
            if (key < r.Base) hi = mid - 1;
            else if (key >= r.Base + r.Pages) lo = mid + 1;
            else return mid;
        }
        return -1;
    }

    private readonly record struct Range(int Base, int Pages, PageClassMap? Classes);
}
