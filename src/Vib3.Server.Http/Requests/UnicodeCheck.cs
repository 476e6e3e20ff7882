using System.Text.Json;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Requests;

/// <summary>System.Text.Json accepts strings holding invalid UTF-8 or a lone surrogate escape (<c>"\ud800"</c>)
/// while parsing and only fails when one is decoded, with an InvalidOperationException that would surface as a 500.
/// Every string and field name of a request is decoded once here, before any field is read, so such text is a 400
/// naming the field, whichever field it is in.</summary>
internal static class UnicodeCheck
{
    private const string What = "is not valid Unicode text (invalid UTF-8, or a lone surrogate escape such as \\ud800)";

    /// <summary>Where the first undecodable text is: the path of a string value (".messages[0].content"), or of the
    /// object holding an undecodable field name.</summary>
    private readonly record struct Invalid(string Path, bool InFieldName);

    public static void Check(JsonElement root)
    {
        if (FirstInvalid(root) is not { } bad) return;
        var path = bad.Path.StartsWith('.') ? bad.Path[1..] : bad.Path;
        if (!bad.InFieldName) throw ApiException.Invalid(path, $"'{path}' {What}");
        throw path.Length > 0
            ? ApiException.Invalid(path, $"a field name in '{path}' {What}")
            : new ApiException(400, "invalid_request_error", "invalid_value", $"a field name in the request body {What}");
    }

    /// <summary>The first text below <paramref name="e"/> that does not decode, with its path relative to
    /// <paramref name="e"/>; null when all decode. The recursion is as deep as the document, which JsonDocument caps
    /// (64 levels by default).</summary>
    private static Invalid? FirstInvalid(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(e.GetString) ? null : new Invalid("", false);
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    if (!Decodes(() => p.Name)) return new Invalid("", true);
                    if (FirstInvalid(p.Value) is { } below) return below with { Path = "." + p.Name + below.Path };
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (FirstInvalid(item) is { } below) return below with { Path = $"[{i}]{below.Path}" };
                    i++;
                }
                return null;
            default:
                return null;
        }
    }

    private static bool Decodes(Func<string?> read)
    {
        try
        {
            read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // "Cannot transcode invalid UTF-8 JSON text to UTF-16" or "Invalid surrogate value"
        }
    }
}
