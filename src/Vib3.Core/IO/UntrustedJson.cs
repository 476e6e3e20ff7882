using System.Text.Json;
using System.Text.Unicode;

namespace Vib3.Core.IO;

/// <summary>Parses JSON from a model folder (or a safetensors header) so that bad input ends as one line naming the
/// file: not UTF-8, not JSON (with the line and byte where it stops), too large (<see cref="UntrustedFile"/>). The
/// errors say where, never what: the file might be something other than a model file (a symlink to a secret), so
/// none of its bytes are echoed. UTF-8 is checked up front because System.Text.Json only notices invalid UTF-8
/// inside a string when the string is read, long after parsing.</summary>
public static class UntrustedJson
{
    /// <summary>The JSON document in <paramref name="path"/>, a regular file of at most <paramref name="maxBytes"/>.</summary>
    public static JsonDocument Read(string path, long maxBytes, JsonDocumentOptions options = default) =>
        Parse(path, UntrustedFile.ReadAllBytes(path, maxBytes), options);

    /// <summary>Parses <paramref name="json"/> (a UTF-8 byte order mark allowed); <paramref name="origin"/> names it in errors.</summary>
    public static JsonDocument Parse(string origin, ReadOnlyMemory<byte> json, JsonDocumentOptions options = default)
    {
        if (json.Span.StartsWith("\uFEFF"u8)) json = json[3..];
        if (!Utf8.IsValid(json.Span))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: not valid UTF-8");
        try
        {
            return JsonDocument.Parse(json, options);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: not valid JSON{where}");
        }
    }
}
