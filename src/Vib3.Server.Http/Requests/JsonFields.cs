using System.Text.Json;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Requests;

/// <summary>Typed reads of optional request fields. A JSON null counts as absent (OpenAI clients send nulls for
/// unset options); a value of the wrong type or out of range is a 400 naming the field by its dotted path.</summary>
internal readonly struct JsonFields(JsonElement obj, string prefix = "")
{
    public string Path(string name) => prefix + name;

    public JsonElement? Get(string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be a string"),
    };

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be a boolean"),
    };

    public decimal? Decimal(string name, decimal min, decimal max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be a number");
        return v.TryGetDecimal(out var d) && d >= min && d <= max ? d
            : throw ApiException.Invalid(Path(name), max == decimal.MaxValue
                ? $"'{Path(name)}' must be at least {min}, got {Shown(v)}"
                : $"'{Path(name)}' must be between {min} and {max}, got {Shown(v)}");
    }

    public long? Integer(string name, long min, long max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be an integer");
        return v.TryGetInt64(out var n) && n >= min && n <= max ? n
            : throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be an integer between {min} and {max}, got {Shown(v)}");
    }

    /// <summary>A number as the client wrote it (1e400, 2.5), cut short: JSON numbers may have any number of digits.</summary>
    private static string Shown(JsonElement number)
    {
        var raw = number.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "…";
    }

    /// <summary>A nested object's fields, named <c>name.field</c> in errors.</summary>
    public JsonFields? Object(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } v => new JsonFields(v, Path(name) + "."),
        _ => throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be an object"),
    };

    /// <summary>A string or a list of strings (stop, prompt), at most <paramref name="maxCount"/> of them.</summary>
    public IReadOnlyList<string>? StringOrList(string name, int maxCount)
    {
        switch (Get(name))
        {
            case null: return null;
            case { ValueKind: JsonValueKind.String } s: return [s.GetString()!];
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() > maxCount)
                    throw ApiException.Invalid(Path(name), $"'{Path(name)}' takes at most {maxCount} string(s), got {a.GetArrayLength()}");
                var path = Path(name);
                return a.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String ? e.GetString()!
                    : throw ApiException.Invalid($"{path}[{i}]", $"'{path}[{i}]' must be a string")).ToList();
            default: throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be a string or a list of strings");
        }
    }
}
