namespace Vib3.Models.Tests.Retrieval;

/// <summary>A temporary folder for a test's converted model, removed on dispose.</summary>
internal sealed class ScratchDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vib3-keys-test-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
