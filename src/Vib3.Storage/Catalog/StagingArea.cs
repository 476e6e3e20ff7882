namespace Vib3.Storage.Catalog;

/// <summary>A folder a conversion writes into before the store is published, and the lock that says its owner
/// is alive: &lt;staging&gt;/&lt;id&gt;.lock, held exclusively (flock) from before the folder exists until after it
/// is renamed or deleted. A folder whose lock can be taken, or that has no lock, is abandoned. Unlike a pid
/// file this survives pid reuse and works across pid namespaces sharing a data directory.
/// Disposing an unpublished staging area deletes it, so a failed conversion leaves nothing behind.</summary>
public sealed class StagingArea : IDisposable
{
    public const string LockSuffix = ".lock";

    private readonly FileStream _lock;
    private bool _published;

    private StagingArea(string name, string dir, FileStream ownerLock)
    {
        Name = name;
        Dir = dir;
        _lock = ownerLock;
    }

    public string Name { get; }

    public string Dir { get; }

    /// <summary>Takes the lock, then creates the folder (the order cleanup relies on).</summary>
    internal static StagingArea Create(string stagingRoot, string name)
    {
        Directory.CreateDirectory(stagingRoot);
        var dir = Path.Combine(stagingRoot, $"{name}.{Guid.NewGuid():N}");
        var ownerLock = new FileStream(dir + LockSuffix, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch
        {
            ownerLock.Dispose();
            File.Delete(dir + LockSuffix);
            throw;
        }
        return new StagingArea(name, dir, ownerLock);
    }

    /// <summary>Deletes <paramref name="dir"/> if no live conversion owns it.</summary>
    internal static void RemoveIfAbandoned(string dir)
    {
        var lockPath = dir + LockSuffix;
        FileStream? taken = null;
        try
        {
            taken = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (FileNotFoundException)
        {
            // The owner takes its lock before creating the folder and drops it only after the folder is gone.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // locked: its conversion is running
        }
        try
        {
            Directory.Delete(dir, recursive: true);
            if (taken is not null) File.Delete(lockPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // another process is cleaning it up too, or it is not ours to delete
        }
        finally
        {
            taken?.Dispose();
        }
    }

    internal void MarkPublished()
    {
        _published = true;
        ReleaseLock();
    }

    private void ReleaseLock()
    {
        try { File.Delete(Dir + LockSuffix); }
        finally { _lock.Dispose(); }
    }

    public void Dispose()
    {
        if (_published) return;
        try
        {
            if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
            ReleaseLock();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _lock.Dispose(); // the folder stays; with its lock free the next conversion removes it
        }
    }
}
