using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vib3.Core.IO;

/// <summary>The one way vib3 opens files of a model folder someone else made (config.json, tokenizer files, checkpoint
/// files): only regular files are opened (a FIFO would block the open forever, /dev/zero would never end, a socket or
/// device is no model file), the type is checked after symlinks are resolved and on the opened handle itself, and
/// whole-file reads are capped by a size limit for the file's kind (<see cref="ModelFileLimits"/>), checked before a
/// byte is allocated.</summary>
public static partial class UntrustedFile
{
    /// <summary>Opens <paramref name="path"/> for reading if it is (or a symlink resolves to) a regular file; never
    /// blocks on the open. Missing: 42704; anything else than a regular file: 22023; unreadable: 58030.</summary>
    public static SafeFileHandle OpenRegular(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return OperatingSystem.IsLinux() ? OpenRegularLinux(path) : OpenRegularPortable(path);
    }

    /// <summary>All bytes of a regular file, refused (54000) when it is longer than <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        using var h = OpenRegular(path);
        var length = RandomAccess.GetLength(h);
        if (length > maxBytes)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"{path}: {ByteSize.Format(length)} is more than the {ByteSize.Format(maxBytes)} vib3 reads from a file of this kind");
        var bytes = new byte[length];
        var done = 0;
        while (done < bytes.Length)
        {
            var n = RandomAccess.Read(h, bytes.AsSpan(done), done);
            if (n <= 0)
                throw new Vib3Exception(SqlState.IoError, $"{path}: the file shrank while it was read");
            done += n;
        }
        return bytes;
    }

    /// <summary>A regular file's text (UTF-8, a byte order mark skipped), capped like <see cref="ReadAllBytes"/>.</summary>
    public static string ReadAllText(string path, long maxBytes)
    {
        var bytes = ReadAllBytes(path, maxBytes);
        var bom = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        return Encoding.UTF8.GetString(bytes, bom, bytes.Length - bom);
    }

    private static SafeFileHandle OpenRegularPortable(string path)
    {
        if (Directory.Exists(path)) throw NotRegular(path, "a directory");
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Missing(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, e.Message);
        }
    }

    private static Vib3Exception Missing(string path) => new(SqlState.UndefinedObject, $"{path}: no such file");

    private static Vib3Exception Unreadable(string path, string why) => new(SqlState.IoError, $"{path}: cannot open for reading ({why})");

    private static Vib3Exception NotRegular(string path, string what) =>
        new(SqlState.InvalidParameterValue, $"{path}: is {what}, not a regular file; model files must be plain files");
}
