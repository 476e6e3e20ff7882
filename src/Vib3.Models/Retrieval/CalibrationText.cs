using System.IO.Compression;
using Vib3.Core;

namespace Vib3.Models.Retrieval;

/// <summary>The text a calibration runs on (a co-activation layout, a retrieval calibration): a plain or gzip file, of
/// which only the start that can hold <c>maxTokens</c> tokens is read (16 characters a token is more than any
/// tokenizer needs).</summary>
public static class CalibrationText
{
    /// <summary>The start of <paramref name="path"/>; one clear error for a missing, unreadable, non-gzip ".gz" or
    /// empty file.</summary>
    public static string Read(string path, int maxTokens)
    {
        if (!File.Exists(path)) throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: no such calibration file");
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(stream);
            var buffer = new char[checked(maxTokens * 16)];
            var read = reader.ReadBlock(buffer, 0, buffer.Length);
            if (read == 0 || buffer.AsSpan(0, read).IsWhiteSpace())
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{path}: the calibration text is empty");
            return new string(buffer, 0, read);
        }
        catch (InvalidDataException e)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{path}: not a gzip file ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vib3Exception(SqlState.IoError, $"{path}: {e.Message}");
        }
    }
}
