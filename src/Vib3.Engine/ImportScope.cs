using Vib3.Core;

namespace Vib3.Engine;

/// <summary>The folders remote sessions may import models from (--import-dir): CREATE MODEL from a client that is
/// not local reads only paths that lie under one of them once the full path and every symbolic link in it are
/// resolved. The path is judged before anything under it is opened, and a refused path gets the same message
/// whether or not it exists, so a remote client learns nothing about the rest of the server's disk.</summary>
public sealed class ImportScope
{
    /// <summary>Symbolic links followed while resolving one path before it is refused as a loop (Linux's limit).</summary>
    public const int MaxLinkHops = 40;

    private readonly IReadOnlyList<(string Given, string Real)> _dirs;

    /// <param name="dirs">The import directories; each must exist (a typo should fail at startup, not at import).</param>
    public ImportScope(IEnumerable<string> dirs)
    {
        _dirs = dirs.Select(d =>
        {
            var full = Path.GetFullPath(d);
            if (!Directory.Exists(full))
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"--import-dir {d}: no such directory");
            // The directory itself may sit behind links (/tmp → /private/tmp): paths are compared with its real path.
            var root = Path.GetPathRoot(full)!;
            return (full, Walk(root, Within(full, root)!, d)!);
        }).ToList();
    }

    /// <summary>The path to read for <paramref name="given"/> (absolute, no symbolic link and no '..' left in it),
    /// or 42501 when it is not under an import directory. Every entry of the checkpoint's folder (the path itself,
    /// or the folder of a single file: config.json, the tokenizer and the shards are read from it) must stay under
    /// the same directory too, so a link inside it cannot pull in a file from elsewhere.</summary>
    public string Resolve(string given)
    {
        if (given.Contains('\0')) throw Refused(given); // no file has such a name; GetFullPath would throw
        var full = Path.GetFullPath(given); // lexical: '..' is gone before anything is looked up
        foreach (var (dirGiven, dirReal) in _dirs)
        {
            var rest = Within(full, dirGiven) ?? Within(full, dirReal);
            if (rest is null) continue;
            if (Walk(dirReal, rest, given) is not { } real) continue; // a link led out of this one; another may hold it
            var folder = Directory.Exists(real) ? real : Path.GetDirectoryName(real)!;
            var shownFolder = Directory.Exists(real) ? given : Path.GetDirectoryName(given) ?? "";
            if (Directory.Exists(folder))
                foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
                    if (new FileInfo(entry).LinkTarget is not null && Walk(dirReal, Within(entry, dirReal)!, given) is null)
                        throw Refused(Path.Join(shownFolder, Path.GetFileName(entry)));
            return real;
        }
        throw Refused(given);
    }

    private static Vib3Exception Refused(string shown) =>
        new(SqlState.InsufficientPrivilege,
            $"CREATE MODEL from remote sessions may only read files under --import-dir; '{shown}' is not under one");

    /// <summary>The components of <paramref name="path"/> below <paramref name="dir"/> (empty for the folder
    /// itself), or null when the path is not under it. Both are full paths.</summary>
    private static string[]? Within(string path, string dir)
    {
        var relative = Path.GetRelativePath(dir, path);
        if (relative == ".") return [];
        if (Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            return null;
        return relative.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Resolves <paramref name="components"/> below the real folder <paramref name="root"/> one at a time,
    /// following each symbolic link only when its target (made absolute, '..' removed) lies under the root again;
    /// null as soon as one points out. A component that does not exist ends the walk: nothing below it can be a link.</summary>
    private static string? Walk(string root, IEnumerable<string> components, string shown)
    {
        var pending = new List<string>(components);
        var current = root;
        var hops = 0;
        while (pending.Count > 0)
        {
            var candidate = Path.Join(current, pending[0]);
            pending.RemoveAt(0);
            if (new FileInfo(candidate).LinkTarget is { } target)
            {
                if (++hops > MaxLinkHops)
                    throw new Vib3Exception(SqlState.InvalidParameterValue, $"'{shown}': too many levels of symbolic links");
                var rest = Within(Path.GetFullPath(target, current), root);
                if (rest is null) return null;
                pending.InsertRange(0, rest);
                current = root;
            }
            else if (!Path.Exists(candidate))
                return Path.Join([candidate, .. pending]);
            else
                current = candidate;
        }
        return current;
    }
}
