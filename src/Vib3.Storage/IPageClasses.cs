namespace Vib3.Storage;

/// <summary>What an expert-aware eviction policy asks about the pages it ranks: which are dense, and how many there
/// are (its notion of "one pass over the pages"). One store's <see cref="PageClassMap"/>, or a
/// <see cref="PagePool"/>'s view over the pages of every store open in it.</summary>
public interface IPageClasses
{
    /// <summary>Pages known now (for a pool, those of the stores open in it).</summary>
    int PageCount { get; }

    bool IsDense(int page);
}
