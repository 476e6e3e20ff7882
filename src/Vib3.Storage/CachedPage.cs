namespace Vib3.Storage;

/// <summary>
/// One page's bytes plus its pin count. Mutable fields are guarded by the owning
/// <see cref="PageCache"/>'s lock. Arrays are never reused, so a lease's memory stays valid
/// even if the page is later evicted.
/// </summary>
internal sealed class CachedPage(int page, byte[] data)
{
    public int Page { get; } = page;
    public byte[] Data { get; } = data;
    public int Pins;
    public bool Resident;
}
