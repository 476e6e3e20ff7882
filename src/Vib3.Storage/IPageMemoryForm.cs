namespace Vib3.Storage;

/// <summary>
/// How a store's pages are held in RAM where that differs from how they are stored: the inference engine holds
/// Q4_K / Q6_K expert pages with eight rows' blocks interleaved, which its kernels read as they are. The store applies
/// <see cref="ToMemory"/> to a page's bytes in place once its checksum has been verified and before any reader sees
/// it (the same length: the budget and the page table do not change); a reader that needs the stored bytes applies
/// <see cref="ToStored"/> to a copy.
/// </summary>
public interface IPageMemoryForm
{
    /// <summary>Rewrites page <paramref name="page"/>'s verified bytes into the form RAM holds.</summary>
    void ToMemory(int page, Span<byte> bytes);

    /// <summary>Rewrites page <paramref name="page"/>'s bytes, as RAM holds them, back into their stored form.</summary>
    void ToStored(int page, Span<byte> bytes);
}
