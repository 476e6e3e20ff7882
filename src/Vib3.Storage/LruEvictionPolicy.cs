namespace Vib3.Storage;

/// <summary>
/// Least recently released first. Pinned pages are not tracked, so "recent" means the last time
/// a lease on the page ended (or it was inserted), which for a cache of leased pages is the
/// moment it was last in use. O(1) for every operation.
/// </summary>
public sealed class LruEvictionPolicy : IEvictionPolicy
{
    private readonly LinkedList<int> _order = new(); // first = least recently released
    private readonly Dictionary<int, LinkedListNode<int>> _nodes = new();

    public void Accessed(int page) { }

    public void Add(int page)
    {
        if (_nodes.Remove(page, out var old)) _order.Remove(old);
        _nodes[page] = _order.AddLast(page);
    }

    public void Remove(int page)
    {
        if (_nodes.Remove(page, out var node)) _order.Remove(node);
    }

    public bool TryTakeVictim(out int page)
    {
        var first = _order.First;
        if (first is null) { page = -1; return false; }
        page = first.Value;
        _order.RemoveFirst();
        _nodes.Remove(page);
        return true;
    }

    public void Clear()
    {
        _order.Clear();
        _nodes.Clear();
    }
}
