namespace Vib3.Storage.Catalog;

/// <summary>A folder a conversion writes into before the store is published. Disposing an unpublished
/// staging area deletes it, so a failed conversion leaves nothing behind.</summary>
public sealed class StagingArea : IDisposable
{
    /// <summary>Holds the pid of the converting process; a folder whose owner is dead is abandoned.</summary>
    public const string OwnerFile = "owner.pid";

    private bool _published;

    internal StagingArea(string name, string dir)
    {
        Name = name;
        Dir = dir;
    }

    public string Name { get; }

    public string Dir { get; }

    internal void MarkPublished() => _published = true;

    public void Dispose()
    {
        if (_published || !Directory.Exists(Dir)) return;
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { /* left for the next BeginStaging to remove */ }
        catch (UnauthorizedAccessException) { }
    }
}
