namespace Vib3.Storage.Catalog;

/// <summary>A folder under &lt;data&gt;/staging that a conversion writes into (or a drop deletes from), and the
/// lock that says its owner is alive: &lt;folder&gt;.lock, held exclusively from before the folder exists until
/// after it is renamed or deleted. A folder whose lock can be taken, or that has no lock, is abandoned. Unlike a
/// pid file this survives pid reuse and works across pid namespaces sharing a data directory.
/// Disposing an unpublished area deletes its folder, so a failed conversion leaves nothing behind.</summary>
public sealed class StagingArea : IDisposable
{
    public const string LockSuffix = ".lock";

    /// <summary>A lock file without its folder is removed only when older than this: younger ones may belong to an
    /// owner that has created its lock and is about to create the folder.</summary>
    private static readonly TimeSpan LoneLockAge = TimeSpan.FromMinutes(10);

    private readonly OwnerLock _lock;
    private bool _published;

    private StagingArea(string name, string dir, OwnerLock ownerLock)
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
        var area = Reserve(stagingRoot, name);
        try
        {
            Directory.CreateDirectory(area.Dir);
        }
        catch
        {
            area.Dispose();
            throw;
        }
        return area;
    }

    /// <summary>Takes the lock for a folder the caller will move into <see cref="Dir"/> (to delete it).</summary>
    internal static StagingArea Reserve(string stagingRoot, string name)
    {
        Directory.CreateDirectory(stagingRoot);
        var dir = Path.Combine(stagingRoot, $"{name}.{Guid.NewGuid():N}");
        return new StagingArea(name, dir, OwnerLock.Create(dir + LockSuffix));
    }

    /// <summary>Deletes every folder (and stale lock) under <paramref name="stagingRoot"/> that no live owner holds.</summary>
    internal static void RemoveAbandoned(string stagingRoot)
    {
        if (!Directory.Exists(stagingRoot)) return;
        foreach (var dir in Directory.EnumerateDirectories(stagingRoot))
            RemoveIfAbandoned(dir);
        foreach (var lockPath in Directory.EnumerateFiles(stagingRoot, "*" + LockSuffix))
        {
            if (Directory.Exists(lockPath[..^LockSuffix.Length])) continue;
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(lockPath) < LoneLockAge) continue;
            if (OwnerLock.TryTake(lockPath, out var taken) != OwnerLock.Outcome.Acquired) continue;
            using (taken) TryDelete(() => File.Delete(lockPath));
        }
    }

    private static void RemoveIfAbandoned(string dir)
    {
        var lockPath = dir + LockSuffix;
        switch (OwnerLock.TryTake(lockPath, out var taken))
        {
            case OwnerLock.Outcome.HeldByAnother:
                return; // its conversion is running
            case OwnerLock.Outcome.Missing:
                // The owner takes its lock before creating the folder and drops it only after the folder is gone.
                TryDelete(() => Directory.Delete(dir, recursive: true));
                return;
            default:
                using (taken)
                {
                    TryDelete(() =>
                    {
                        Directory.Delete(dir, recursive: true);
                        File.Delete(lockPath);
                    });
                }
                return;
        }
    }

    private static void TryDelete(Action delete)
    {
        try { delete(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // another process is cleaning it up too, or it is not ours to delete
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
