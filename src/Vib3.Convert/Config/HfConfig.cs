using System.Text.Json;
using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Config;

/// <summary>A Hugging Face config.json.</summary>
public sealed class HfConfig : IConfigSource
{
    private readonly JsonElement _root;

    private HfConfig(string path, JsonElement root)
    {
        Origin = path;
        _root = root;
    }

    public string Origin { get; }

    /// <summary>architectures[0] (e.g. MixtralForCausalLM).</summary>
    public string? Architecture
    {
        get
        {
            if (!_root.TryGetProperty("architectures", out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() == 0)
                return null;
            return a[0].ValueKind == JsonValueKind.String
                ? a[0].GetString()
                : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: 'architectures' should list names (strings), found {a[0].ValueKind}");
        }
    }

    public static HfConfig Load(string folder)
    {
        var path = Path.Combine(folder, "config.json");
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: missing (a Hugging Face model folder needs config.json)");
        using var doc = UntrustedJson.Read(path, ModelFileLimits.ConfigJsonBytes);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{path}: expected a JSON object");
        return new HfConfig(path, doc.RootElement.Clone());
    }

    /// <summary>A dotted key reads inside nested objects: rope_parameters.rope_theta (transformers 5 layout).</summary>
    public double? GetNumber(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.Number => Finite(key, v),
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            JsonValueKind.Array when v.GetArrayLength() > 0 && v[0].ValueKind == JsonValueKind.Number => Finite(key, v[0]),
            JsonValueKind.Null => null,
            _ => throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: '{key}' should be a number, found {v.ValueKind}"),
        };
    }

    /// <summary>Every entry of an array of numbers (null when the key is absent or null).</summary>
    public double[]? GetNumbers(string key)
    {
        if (!TryGet(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: '{key}' should be an array of numbers, found {UntrustedText.Shown(v.GetRawText())}");
        return v.EnumerateArray().Select(e => Finite(key, e)).ToArray();
    }

    /// <summary>A JSON number as a double; one beyond double's range (1e400) is an error, not an exception.</summary>
    private double Finite(string key, JsonElement number) => number.TryGetDouble(out var d) && double.IsFinite(d)
        ? d
        : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: '{key}' = {UntrustedText.Shown(number.GetRawText())} is out of range");

    public string? GetText(string key)
    {
        if (!TryGet(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: '{key}' should be a string, found {v.ValueKind}");
    }

    public int? ArrayLength(string key) =>
        TryGet(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.GetArrayLength() : null;

    private bool TryGet(string key, out JsonElement value)
    {
        value = _root;
        foreach (var part in key.Split('.'))
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(part, out value)) return false;
        }
        return true;
    }
}
