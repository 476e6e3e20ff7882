namespace Vib3.Storage;

/// <summary>
/// Told when a <see cref="PageStore"/> read finds its page not resident, between that first cache check
/// and the locked step that joins a load in progress or starts one. A load may finish in that gap; the read must
/// then take the page from RAM rather than read it again. The gap is a few instructions long in production, so a
/// test widens it with an observer whose task completes when the test says; no observer is set in production.
/// </summary>
public interface IPageMissObserver
{
    /// <summary>Awaited by the read before it goes on.</summary>
    ValueTask MissedAsync(int page);
}
